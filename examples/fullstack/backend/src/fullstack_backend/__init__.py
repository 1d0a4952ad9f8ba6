"""Crayon's example backend: a workflow's steps streamed as server-sent events."""
