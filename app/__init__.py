"""Crayon: a children's-drawing anomaly demo, and the kit that deploys it."""
