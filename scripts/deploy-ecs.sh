#!/usr/bin/env bash
# Roll the ECS service of one environment to an image already in its ECR repository:
#   scripts/deploy-ecs.sh <environment> <image-tag>
# The GitHub deploy jobs call this with the environment's deploy role credentials (OIDC);
# tests/deploy/test_iam_enforced.py calls it against the emulator with the same role's
# credentials, IAM enforced. Uses the ansible-playbook on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
env_name="${1:?usage: scripts/deploy-ecs.sh <environment> <image-tag>}"
tag="${2:?usage: scripts/deploy-ecs.sh <environment> <image-tag>}"
if [[ ! "$env_name" =~ ^[a-z][a-z0-9-]{0,15}$ ]] || [ ! -d "inventories/$env_name" ]; then
  echo "No inventory inventories/$env_name: give dev, production or another inventory's name." >&2
  exit 2
fi
if [[ ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "Bad image tag '$tag': letters, digits, _ . - (at most 128)." >&2
  exit 2
fi
exec ansible-playbook playbooks/deploy.yml -i "inventories/$env_name" -e "deploy_image_tag=$tag"
