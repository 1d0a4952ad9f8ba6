#!/usr/bin/python
"""Publish a built static site (a `next export`-style folder) to its S3 bucket."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_site_sync
short_description: Upload a built static site to S3 with per-path Cache-Control; report what changed
description:
  - Uploads every file of I(source) to I(bucket) (the key is the file's path under I(source)),
    with its content type and a Cache-Control header by path (C(public, max-age=31536000,
    immutable) for hashed assets (I(immutable_paths)), C(public, max-age=I(max_age)) for the
    rest (HTML, the build id, unhashed files)).
  - Uploads only files whose content (MD5, the ETag of a single-part upload under SSE-S3),
    content type or Cache-Control differ from the object's, hashed assets first and pages last
    (a new page never names an asset not yet up). Then, with I(delete), deletes the objects no
    longer in the build (only after every upload succeeded).
  - Returns the viewer paths to invalidate in CloudFront, that is every page or file replaced
    or deleted, and every new one that is not a hashed asset (its path may have been cached as
    the SPA fallback); C(x/index.html) also gives C(/x/) and C(/x), C(x.html) also C(/x),
    C(index.html) also C(/). A second run with the same build uploads nothing, deletes
    nothing and returns no path (changed=0). Supports check mode.
options:
  bucket:
    description: The bucket.
    type: str
    required: true
  source:
    description: The built folder (absolute path).
    type: path
    required: true
  immutable_paths:
    description: Viewer path patterns of hashed assets (C(*) matches any characters).
    type: list
    elements: str
    default: []
  max_age:
    description: Cache-Control max-age, in seconds, of every file that is not a hashed asset.
    type: int
    default: 60
  delete:
    description: Delete the objects that are no longer in the build (after the uploads).
    type: bool
    default: true
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Publish the frontend build
  crayon.aws.s3_site_sync:
    bucket: shop-prod-frontend-123456789012
    source: /srv/build/frontend/out
    immutable_paths: ["/_next/static/*"]
    max_age: 60
  register: release
"""

RETURN = r"""
uploaded:
  description: Keys written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
deleted:
  description: Keys deleted (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
unchanged:
  description: How many files were already up to date.
  returned: always
  type: int
invalidation_paths:
  description: Viewer paths whose cached copies are stale, sorted.
  returned: always
  type: list
  elements: str
"""

import base64  # noqa: E402 - Ansible modules document themselves first
import contextlib  # noqa: E402
import fnmatch  # noqa: E402
import hashlib  # noqa: E402
import mimetypes  # noqa: E402
import os  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import (  # noqa: E402
    AnsibleAWSModule,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore

YEAR_S = 31536000
# Types mimetypes does not know everywhere (it reads the host's /etc/mime.types).
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
}
TEXT = ("text/", "application/json", "application/javascript", "application/xml", "image/svg")


def content_type(key: str) -> str:
    ext = os.path.splitext(key)[1].lower()
    kind = TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    if kind.startswith(TEXT) or kind == "application/manifest+json":
        kind += "; charset=utf-8"
    return kind


def cache_control(key: str, immutable: list[str], max_age: int) -> str:
    if any(fnmatch.fnmatchcase("/" + key, p) for p in immutable):
        return f"public, max-age={YEAR_S}, immutable"
    return f"public, max-age={max_age}"


def viewer_paths(key: str) -> list[str]:
    """The URLs a browser may have used for `key` (clean URLs of pages included)."""
    out = ["/" + key]
    if key == "index.html":
        out.append("/")
    elif key.endswith("/index.html"):
        folder = "/" + key[: -len("index.html")]
        out += [folder, folder.rstrip("/")]
    elif key.endswith(".html"):
        out.append("/" + key[: -len(".html")])
    return out


def _files(source: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for root, dirs, names in os.walk(source):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            key = os.path.relpath(path, source).replace(os.sep, "/")
            found[key] = path
    return found


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _objects(s3: Any, bucket: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents") or []:
            out[obj["Key"]] = obj["ETag"].strip('"')
    return out


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "bucket": {"type": "str", "required": True},
            "source": {"type": "path", "required": True},
            "immutable_paths": {"type": "list", "elements": "str", "default": []},
            "max_age": {"type": "int", "default": 60},
            "delete": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    source = p["source"]
    if not os.path.isdir(source) or not os.path.isfile(os.path.join(source, "index.html")):
        module.fail_json(
            msg=f"The frontend build {source} is not a folder with an index.html: build the "
            "frontend first (next build with output: 'export' writes out/) or fix "
            "stack.frontend.source"
        )
    s3 = module.client("s3")
    try:
        files = _files(source)
        try:
            have = _objects(s3, p["bucket"])
        except s3.exceptions.NoSuchBucket:
            if not module.check_mode:
                module.fail_json(
                    msg=f"The frontend bucket {p['bucket']} does not exist: run site.yml "
                    "(aws_cdn builds it) before releasing the frontend"
                )
            # Check mode before the first site.yml: everything would be uploaded.
            have = {}
        want = {
            key: {
                "md5": _md5(path),
                "ContentType": content_type(key),
                "CacheControl": cache_control(key, p["immutable_paths"], p["max_age"]),
            }
            for key, path in files.items()
        }
        same_body = [k for k in want if have.get(k) == want[k]["md5"]]

        def headers_match(key: str) -> bool:
            head = s3.head_object(Bucket=p["bucket"], Key=key)
            return bool(
                head.get("ContentType") == want[key]["ContentType"]
                and head.get("CacheControl") == want[key]["CacheControl"]
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            matching = dict(zip(same_body, pool.map(headers_match, same_body), strict=True))
        upload = [k for k in want if not matching.get(k, False)]
        delete = sorted(set(have) - set(want)) if p["delete"] else []

        def immutable(key: str) -> bool:
            return want[key]["CacheControl"].endswith("immutable")

        # Hashed assets first, pages last: a new page never names an asset that is not up yet.
        upload.sort(key=lambda k: (not immutable(k), k.endswith(".html"), k))
        stale = [k for k in upload if k in have or not immutable(k)] + delete
        paths = sorted({v for k in stale for v in viewer_paths(k)})
        if not module.check_mode:
            for key in upload:
                with open(files[key], "rb") as f:
                    body = f.read()
                s3.put_object(
                    Bucket=p["bucket"],
                    Key=key,
                    Body=body,
                    ContentType=want[key]["ContentType"],
                    CacheControl=want[key]["CacheControl"],
                    ContentMD5=base64.b64encode(bytes.fromhex(want[key]["md5"])).decode(),
                )
            for i in range(0, len(delete), 1000):
                s3.delete_objects(
                    Bucket=p["bucket"],
                    Delete={"Objects": [{"Key": k} for k in delete[i : i + 1000]], "Quiet": True},
                )
        module.exit_json(
            changed=bool(upload or delete),
            uploaded=upload,
            deleted=delete,
            unchanged=len(want) - len(upload),
            invalidation_paths=paths,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not publish {source} to s3://{p['bucket']}")


if __name__ == "__main__":
    main()
