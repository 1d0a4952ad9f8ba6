self.__BUILD_MANIFEST = {"/": "index.html", "/404": "404.html", "/runs": "runs.html"};
