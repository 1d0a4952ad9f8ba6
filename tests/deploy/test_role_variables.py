"""Each documented variable of each AWS role, changed, re-run, and read back from the emulator.

One Crayon stack (inventories/emulated) is built per module against moto on loopback; each
test then re-runs only the role under test (`site.yml --tags <role>`: preflight still builds
the stack model under any tag) with that role's variables changed through `-e`, and reads
every new value back with boto3. Where several variables of one role are independent (they
set different fields of AWS resources, and none decides whether another is applied), they are
changed in the same re-run to keep CI short, and each is still read back on its own, from
the field it sets: a variable the role passes but never compares leaves its own field at the
old value, whatever the others did, so the assertion naming it fails.

`COVERED` names, for every variable, the test that changes it; `SKIPPED` says why a variable
is not an AWS setting of a resource this stack can show (state, waits, names passed in,
...); `ELSEWHERE` points at the module that builds the stack the variable needs. A variable
in a role's defaults/main.yml that is in none of them fails
`test_every_documented_variable_is_accounted_for`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ecs_stack as E
from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

INVENTORY = ROOT / "inventories" / "emulated"
SITE = ROOT / "playbooks" / "site.yml"
PREFIX = "crayon-emulated"
ACCOUNT = "123456789012"
BUCKETS = [f"{PREFIX}-data-{ACCOUNT}", f"{PREFIX}-replica-{ACCOUNT}", f"{PREFIX}-audit-{ACCOUNT}"]
SECRETS = ["crayon/emulated/admin", "crayon/emulated/session", "crayon/emulated/origin-verify"]

_NAME = "a name the stack model derives and site.yml passes in (tests/deploy/test_stack_model.py)"
_REGION = "where, not what: the stack's region (every read here names the region it was given)"
_STATE = "present/absent: what destroy.yml runs (its own tests remove the stack)"
_FACT = "an id another role published in the same run, not a setting"
_ACCOUNT = "the account the stack lives in (in ARNs); preflight compares it with the caller's"
_WAIT = "how long or whether the run waits; nothing is stored in AWS"

# Variable -> the test below that changes it and reads it back.
COVERED: dict[str, str] = {
    **dict.fromkeys(
        ["aws_network_app_ports", "aws_network_alb_ports", "aws_network_nat_gateway"],
        "test_aws_network_existing_vpc",
    ),
    **dict.fromkeys(
        [
            "aws_network_vpc_cidr",
            "aws_network_public_cidrs",
            "aws_network_private_cidrs",
            "aws_network_azs",
        ],
        "test_aws_network_new_vpc",
    ),
    **dict.fromkeys(
        ["aws_registry_scan_on_push", "aws_registry_tag_mutability", "aws_registry_keep_images"],
        "test_aws_registry",
    ),
    **dict.fromkeys(
        ["aws_storage_buckets", "aws_storage_deny_insecure_transport"], "test_aws_storage"
    ),
    "aws_secrets_secrets": "test_aws_secrets",
    **dict.fromkeys(
        [
            "aws_budget_limit_usd",
            "aws_budget_time_unit",
            "aws_budget_thresholds_percent",
            "aws_budget_forecast_alert",
            "aws_budget_emails",
            "aws_budget_sns_topic_arn",
        ],
        "test_aws_budget",
    ),
    **dict.fromkeys(
        [
            "aws_ecs_deregistration_delay",
            "aws_ecs_container_health_interval",
            "aws_ecs_container_health_timeout",
            "aws_ecs_container_health_retries",
            "aws_ecs_container_health_start_period",
            "aws_ecs_alb_idle_timeout",
            "aws_ecs_alb_access_logs",
            "aws_ecs_alb_access_logs_prefix",
        ],
        "test_aws_ecs_role_settings",
    ),
    **dict.fromkeys(
        [
            "aws_monitoring_services",
            "aws_monitoring_alert_emails",
            "aws_monitoring_period_seconds",
            "aws_monitoring_5xx_rate_percent",
            "aws_monitoring_elb_5xx_count",
            "aws_monitoring_s3_bucket",
        ],
        "test_aws_monitoring",
    ),
    "aws_monitoring_dashboard": "test_aws_monitoring_dashboard_off",
    **dict.fromkeys(
        [
            "aws_iam_services",
            "aws_iam_github_repository",
            "aws_iam_github_environment",
            "aws_iam_github_oidc_thumbprints",
        ],
        "test_aws_iam",
    ),
    "aws_iam_github_oidc_provider_arn": "test_aws_iam_given_oidc_provider",
    **dict.fromkeys(
        [
            "aws_audit_trail_prefix",
            "aws_audit_retention_days",
            "aws_audit_alb_access_logs",
            "aws_audit_alb_prefix",
            "aws_audit_flow_logs",
            "aws_audit_flow_logs_retention_days",
            "aws_audit_flow_logs_traffic",
        ],
        "test_aws_audit",
    ),
    "aws_audit_flow_logs_destination": "test_aws_audit_flow_logs_to_s3",
    "aws_audit_cloudtrail": "test_aws_audit_cloudtrail_off",
    **dict.fromkeys(
        [
            "aws_cdn_origin_domain",
            "aws_cdn_origin_protocol",
            "aws_cdn_origin_http_port",
            "aws_cdn_origin_https_port",
            "aws_cdn_origin_read_timeout",
            "aws_cdn_origin_keepalive_timeout",
            "aws_cdn_origin_secret_header",
            "aws_cdn_static_path",
            "aws_cdn_static_default_ttl",
            "aws_cdn_static_max_ttl",
            "aws_cdn_sse_path",
            "aws_cdn_forwarded_headers",
            "aws_cdn_price_class",
        ],
        "test_aws_cdn",
    ),
    # stack.tags -> the model's names.tags -> every role's *_tags.
    **dict.fromkeys(
        [
            "aws_network_tags",
            "aws_storage_tags",
            "aws_secrets_tags",
            "aws_audit_tags",
            "aws_iam_tags",
            "aws_cdn_tags",
        ],
        "test_stack_tags_reach_every_resource",
    ),
}

# Variable -> why it is not changed here: not an AWS setting of a resource this stack shows.
SKIPPED: dict[str, str] = {
    **dict.fromkeys(
        [
            "aws_network_region",
            "aws_registry_region",
            "aws_storage_region",
            "aws_secrets_region",
            "aws_ecs_region",
            "aws_iam_region",
            "aws_audit_region",
            "aws_monitoring_region",
            "aws_certificate_region",
            "aws_database_region",
            "aws_host_region",
            "aws_kms_region",
        ],
        _REGION,
    ),
    **dict.fromkeys(
        [
            "aws_iam_account_id",
            "aws_audit_account_id",
            "aws_monitoring_account_id",
            "aws_kms_account_id",
        ],
        _ACCOUNT,
    ),
    **dict.fromkeys(
        [
            "aws_budget_state",
            "aws_audit_state",
            "aws_cdn_state",
            "aws_monitoring_state",
            "aws_certificate_state",
            "aws_database_state",
            "aws_host_state",
            "aws_kms_state",
        ],
        _STATE,
    ),
    **dict.fromkeys(
        [
            "aws_network_name",
            "aws_registry_repositories",
            "aws_budget_name",
            "aws_ecs_names",
            "aws_ecs_alb_access_logs_bucket",
            "aws_iam_execution_role",
            "aws_iam_deploy_role",
            "aws_iam_host_role",
            "aws_iam_ecs_cluster",
            "aws_iam_secret_arn_patterns",
            "aws_audit_name",
            "aws_audit_trail_name",
            "aws_audit_bucket",
            "aws_audit_flow_logs_group",
            "aws_monitoring_prefix",
            "aws_monitoring_topic_name",
            "aws_monitoring_ecs_cluster",
            "aws_monitoring_dashboard_name",
            "aws_cdn_prefix",
            "aws_cdn_comment",
            "aws_cdn_origin_secret_id",
            "aws_database_names",
            "aws_host_name",
            "aws_kms_prefix",
        ],
        _NAME,
    ),
    **dict.fromkeys(
        [
            "aws_audit_vpc_id",
            "aws_monitoring_alb_arn",
            "aws_monitoring_target_group_arns",
            "aws_monitoring_instance_id",
            "aws_cdn_vpc_origin_arn",
            "aws_database_vpc_id",
            "aws_database_subnet_ids",
            "aws_database_backend_security_group_id",
            "aws_host_instance_profile_name",
        ],
        _FACT,
    ),
    **dict.fromkeys(
        ["aws_iam_deploy_target", "aws_monitoring_target", "aws_host_target"],
        "which compute the stack runs on (stack.target): another stack, not a setting of this one",
    ),
    **dict.fromkeys(
        [
            "aws_cdn_wait",
            "aws_certificate_wait",
            "aws_certificate_wait_timeout",
            "aws_database_wait",
            "aws_host_lightsail_wait_timeout",
            "aws_host_lightsail_wait_interval",
            "aws_iam_lightsail_key_verify_timeout",
        ],
        _WAIT,
    ),
    **dict.fromkeys(
        ["aws_cdn_vpc_origin_endpoint_url", "aws_host_lightsail_endpoint_url"],
        "an API endpoint (the emulator's, in tests), not a setting",
    ),
    "aws_cdn_no_log": "hides the origin secret from the output; nothing in AWS",
    "aws_cdn_origin_secret": (
        "the secret's value (aws_secrets made it; never printed): test_origin_security.py"
    ),
    "aws_secrets_initial": (
        "used only when a secret is created: a value already in Secrets Manager is never "
        "overwritten (by design; test_aws_secrets checks it stays)"
    ),
    "aws_secrets_recovery_window_days": (
        "used only when a secret is deleted (destroy.yml); a live secret has no such field"
    ),
    "aws_iam_lightsail_key_secret_recovery_window_days": (
        "used only when the key's secret is deleted (destroy.yml)"
    ),
    "aws_audit_destroy_data": "what destroy.yml removes (test_audit.py::test_destroy_...)",
    "aws_kms_destroy_key": "what destroy.yml removes (test_kms.py::test_destroy_keeps_...)",
    "aws_kms_pending_window_days": "used only when the key is scheduled for deletion",
    "aws_database_skip_final_snapshot": "what destroy.yml keeps (test_database.py)",
    "aws_database_destroy_protected": "what destroy.yml may remove (test_database.py)",
    "aws_database_restore_time": "restore-database.yml's input (test_database.py)",
    "aws_database_restore_target": "restore-database.yml's input (test_database.py)",
    "aws_iam_github_deploy": (
        "switches the deploy role's creation on; off leaves an existing role in place "
        "(destroy.yml removes it): not a setting of the role"
    ),
    "aws_ecs_alb_drop_invalid_headers": (
        "moto has no such ALB attribute (the module fails on it; recipes/local-aws.md)"
    ),
    "aws_ecs_deploy_image_tag": "deploy.yml's input (test_ecs_stack: a deploy keeps the count)",
    "aws_ecs_deploy_service": "deploy.yml's input (test_ecs_stack)",
    "aws_ecs_deploy_repository": "deploy.yml's input (test_ecs_stack)",
    "aws_ecs_deploy_timeout": "how long deploy.yml waits; not stored in AWS",
    "aws_ecs_deploy_poll_interval": "how often deploy.yml polls; not stored in AWS",
    **dict.fromkeys(
        [
            "aws_host_inventory_group",
            "aws_host_ssh_private_key_file",
            "aws_host_ssh_user",
        ],
        "how Ansible reaches the host after it is built (inventory), not an AWS setting",
    ),
}

# Variable -> where it is changed and read back instead, or what it still needs here.
ELSEWHERE: dict[str, str] = {
    "aws_ecs_services": (
        "test_ecs_stack.py::test_capacity_and_settings_changes_are_applied and "
        "::test_every_wanted_field_is_compared (every service field)"
    ),
    "aws_ecs_certificate_arn": (
        "test_ecs_stack.py::test_a_certificate_moves_the_rules_to_https_and_http_redirects"
    ),
    "aws_host_ssh_cidr": "test_aws_host_ec2.py::test_ssh_from_a_cidr_then_removed",
    "aws_iam_lightsail_key_rotate": "test_lightsail_credentials.py::test_rotation_replaces_the_key",
    "aws_iam_lightsail_key_retire_old": (
        "test_lightsail_credentials.py::test_two_step_rotation_keeps_the_old_key_..."
    ),
}

# NOT YET changed and read back (said plainly in the report): each needs a stack this module
# does not build. Listed so that the accounting test still fails on a new, silent variable.
NOT_YET: dict[str, str] = {
    "aws_ecs_ssl_policy": "an HTTPS listener (a certificate)",
    "aws_ecs_private_subnets": "stack.network.private_tasks with a NAT gateway",
    **dict.fromkeys(
        [
            "aws_storage_kms_key_id",
            "aws_secrets_kms_key_id",
            "aws_iam_lightsail_key_secret_kms_key_id",
        ],
        "stack.kms (test_kms.py builds a keyed stack)",
    ),
    **{
        v: "stack.kms (test_kms.py builds a keyed stack)"
        for v in [
            "aws_kms_description",
            "aws_kms_rotation",
            "aws_kms_via_services",
            "aws_kms_logs",
            "aws_kms_logs_group_pattern",
            "aws_kms_tags",
        ]
    },
    **{
        v: "stack.database (test_database.py builds one)"
        for v in [
            "aws_database_kms_key_arn",
            "aws_database_engine",
            "aws_database_engine_version",
            "aws_database_instance_class",
            "aws_database_allocated_storage",
            "aws_database_max_allocated_storage",
            "aws_database_storage_type",
            "aws_database_serverless_min_acu",
            "aws_database_serverless_max_acu",
            "aws_database_db_name",
            "aws_database_master_username",
            "aws_database_port",
            "aws_database_backup_retention_days",
            "aws_database_backup_window",
            "aws_database_maintenance_window",
            "aws_database_multi_az",
            "aws_database_read_replica",
            "aws_database_deletion_protection",
            "aws_database_tags",
        ]
    },
    **{
        v: "a custom domain and hosted zone (test_certificate.py builds them)"
        for v in [
            "aws_certificate_domain",
            "aws_certificate_hosted_zone",
            "aws_certificate_for_cdn",
            "aws_certificate_for_origin",
            "aws_certificate_given_origin_arn",
            "aws_certificate_tags",
            "aws_cdn_domain",
            "aws_cdn_hosted_zone",
            "aws_cdn_certificate_arn",
            "aws_cdn_certificate_files",
        ]
    },
    "aws_cdn_origin_mode": "a VPC origin (test_cdn_vpc_distribution.py builds one)",
    **{
        v: "stack.target ec2 (test_aws_host_ec2.py builds a host)"
        for v in [
            "aws_host_os",
            "aws_host_app_port",
            "aws_host_ssh_allow_world",
            "aws_host_ssh_key_name",
            "aws_host_ssh_public_key",
            "aws_host_origin_domain",
            "aws_host_user_data",
            "aws_host_tags",
            "aws_host_ec2_instance_type",
            "aws_host_ec2_instance_types_allowed",
            "aws_host_ec2_cpu_credits",
            "aws_host_ec2_architecture",
            "aws_host_ec2_ami_id",
            "aws_host_ec2_ami_owner",
            "aws_host_ec2_ami_name",
            "aws_host_ec2_subnet_id",
            "aws_host_ec2_root_volume_size",
            "aws_host_ec2_root_volume_kms_key_id",
            "aws_host_ec2_elastic_ip",
            "aws_host_cloudfront_prefix_list_name",
            "aws_host_cloudfront_prefix_list_id",
            "aws_host_s3_bucket",
            "aws_host_s3_prefix",
            "aws_host_replica_bucket",
            "aws_host_replica_prefix",
            "aws_host_secret_names",
            "aws_host_ssm_managed",
            "aws_monitoring_cpu_percent",
            "aws_monitoring_evaluation_periods",
        ]
    },
    **{
        v: "stack.target lightsail (moto has no Lightsail; test_aws_host_lightsail_standin.py)"
        for v in [
            "aws_host_lightsail_zone",
            "aws_host_lightsail_bundle_id",
            "aws_host_lightsail_bundle_sizes_allowed",
            "aws_host_lightsail_blueprint_id",
            "aws_host_lightsail_app_cidrs",
            "aws_host_lightsail_app_ipv6_cidrs",
            "aws_iam_lightsail_user_name",
            "aws_iam_lightsail_key_secret_name",
        ]
    },
}


def _defaults(role: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    return dict(data or {})


def _stack_roles() -> list[str]:
    return sorted(p.name for p in (ROOT / "roles").iterdir() if p.name.startswith("aws_"))


def test_every_documented_variable_is_accounted_for() -> None:
    """A new variable must be changed and read back here, or say why not: nothing is silent."""
    missing, double = [], []
    for role in _stack_roles():
        for var in _defaults(role):
            homes = [d for d in (COVERED, SKIPPED, ELSEWHERE, NOT_YET) if var in d]
            if not homes:
                missing.append(var)
            elif len(homes) > 1:
                double.append(var)
    assert not missing, f"variables neither changed in a test nor listed with a reason: {missing}"
    assert not double, f"variables listed twice: {double}"
    tests = {name for name in globals() if name.startswith("test_")}
    assert set(COVERED.values()) <= tests, set(COVERED.values()) - tests
    known = {v for role in _stack_roles() for v in _defaults(role)}
    stale = (set(COVERED) | set(SKIPPED) | set(ELSEWHERE) | set(NOT_YET)) - known
    assert not stale, f"listed here but no longer documented: {stale}"


# --- the stack --------------------------------------------------------------------------


def _inventory_stack() -> dict[str, Any]:
    text = (INVENTORY / "group_vars" / "all" / "main.yml").read_text()
    stack: dict[str, Any] = yaml.safe_load(text)["stack"]
    return stack


class Stack:
    """The built stack: run site.yml on it (whole or one role) and read it with boto3."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = env
        self.tmp = tmp

    def client(self, service: str) -> Any:
        return E.client(self.env, service)

    def site(self, extra: dict[str, Any] | None = None, tags: str = "") -> PlaybookRun:
        run = run_playbook(
            SITE,
            self.env,
            {"stack_outputs_file": str(self.tmp / "outputs.json"), **(extra or {})},
            inventory=INVENTORY,
            timeout=1500,
            extra_args=["--tags", tags] if tags else (),
        )
        assert run.returncode == 0 and run.failed == 0, run.output[-6000:]
        return run

    def change(self, tags: str, extra: dict[str, Any]) -> PlaybookRun:
        """Re-run one role with `extra`: it must change something, then nothing on a re-run."""
        first = self.site(extra, tags)
        assert first.changed > 0, f"{sorted(extra)}: the re-run changed nothing"
        again = self.site(extra, tags)
        assert again.changed == 0, again.changed_tasks()
        return first


@pytest.fixture(scope="module")
def stack(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    moto.reset()
    built = Stack(moto.env(), tmp_path_factory.mktemp("vars"))
    built.site()
    settle = built.site()
    assert set(settle.changed_tasks()) <= E.MOTO_SETTLE_TASKS, settle.changed_tasks()
    yield built


# --- aws_registry -----------------------------------------------------------------------


def test_aws_registry(stack: Stack) -> None:
    stack.change(
        "aws_registry",
        {
            "aws_registry_scan_on_push": False,
            "aws_registry_tag_mutability": "immutable",
            "aws_registry_keep_images": 5,
        },
    )
    ecr = stack.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[f"{PREFIX}-app"])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is False, "aws_registry_scan_on_push"
    assert repo["imageTagMutability"] == "IMMUTABLE", "aws_registry_tag_mutability"
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName=f"{PREFIX}-app")["lifecyclePolicyText"]
    )
    assert [r["selection"]["countNumber"] for r in policy["rules"]] == [5], (
        "aws_registry_keep_images"
    )


# --- aws_storage ------------------------------------------------------------------------


def test_aws_storage(stack: Stack) -> None:
    """stack.buckets (versioning, a lifecycle rule's days) and the TLS-only policy switch."""
    declared = copy.deepcopy(_inventory_stack())
    data = declared["buckets"][0]
    data["versioning"] = False
    data["lifecycle"][0]["transitions"][0]["transition_days"] = 45
    stack.change("aws_storage", {"stack": declared, "aws_storage_deny_insecure_transport": False})
    s3 = stack.client("s3")
    bucket = BUCKETS[0]
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Suspended", (
        "stack.buckets[].versioning"
    )
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["drawings-to-standard-ia"]["Transitions"][0]["Days"] == 45, (
        "stack.buckets[].lifecycle"
    )
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)  # aws_storage_deny_insecure_transport


# --- aws_secrets ------------------------------------------------------------------------


def test_aws_secrets(stack: Stack) -> None:
    """A declared secret's description reaches AWS; its value is never replaced."""
    sm = stack.client("secretsmanager")
    before = sm.get_secret_value(SecretId=SECRETS[1])["SecretString"]
    declared = copy.deepcopy(_inventory_stack())
    declared["secrets"][1]["description"] = "session key, described anew"
    stack.change("aws_secrets", {"stack": declared})
    assert sm.describe_secret(SecretId=SECRETS[1])["Description"] == "session key, described anew"
    assert sm.get_secret_value(SecretId=SECRETS[1])["SecretString"] == before


# --- aws_network ------------------------------------------------------------------------


def _group(stack: Stack, name: str) -> dict[str, Any]:
    groups = stack.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    assert len(groups) == 1, name
    group: dict[str, Any] = groups[0]
    return group


def _ports(rules: list[dict[str, Any]]) -> list[int]:
    return sorted(r["FromPort"] for r in rules if r.get("IpProtocol") == "tcp")


def test_aws_network_existing_vpc(stack: Stack) -> None:
    stack.change(
        "aws_network",
        {
            "aws_network_app_ports": [8000, 8100],
            "aws_network_alb_ports": [80, 443, 8443],
            "aws_network_nat_gateway": True,
        },
    )
    app, alb = _group(stack, f"{PREFIX}-app"), _group(stack, f"{PREFIX}-alb")
    assert _ports(app["IpPermissions"]) == [8000, 8100], "aws_network_app_ports"
    assert _ports(alb["IpPermissionsEgress"]) == [8000, 8100], "aws_network_app_ports (ALB out)"
    assert _ports(alb["IpPermissions"]) == [80, 443, 8443], "aws_network_alb_ports"
    ec2 = stack.client("ec2")
    nat = ec2.describe_nat_gateways(
        Filter=[
            {"Name": "vpc-id", "Values": [app["VpcId"]]},
            {"Name": "state", "Values": ["available"]},
        ]
    )["NatGateways"]
    assert len(nat) == 1, "aws_network_nat_gateway"


def test_aws_network_new_vpc(stack: Stack) -> None:
    """CIDRs and zones are fixed when a VPC is made (AWS changes neither in place): a second
    network, under its own name, is built with other values and read back."""
    name = f"{PREFIX}-b"
    stack.site(
        {
            "aws_network_name": name,
            "aws_network_vpc_cidr": "10.20.0.0/16",
            "aws_network_public_cidrs": ["10.20.1.0/24", "10.20.2.0/24"],
            "aws_network_private_cidrs": ["10.20.11.0/24", "10.20.12.0/24"],
            "aws_network_azs": ["us-east-1c", "us-east-1d"],
        },
        "aws_network",
    )
    ec2 = stack.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.20.0.0/16"], "aws_network_vpc_cidr"
    subnets = {
        next(t["Value"] for t in s["Tags"] if t["Key"] == "Name"): s
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])[
            "Subnets"
        ]
    }
    got = {k: (s["CidrBlock"], s["AvailabilityZone"]) for k, s in subnets.items()}
    assert got[f"{name}-public-1"] == ("10.20.1.0/24", "us-east-1c")
    assert got[f"{name}-public-2"] == ("10.20.2.0/24", "us-east-1d")
    assert got[f"{name}-private-1"] == ("10.20.11.0/24", "us-east-1c")
    assert got[f"{name}-private-2"] == ("10.20.12.0/24", "us-east-1d")


# --- aws_ecs (the role's own settings; the services' fields: test_ecs_stack.py) ---------


def test_aws_ecs_role_settings(stack: Stack) -> None:
    stack.change(
        "aws_ecs",
        {
            "aws_ecs_deregistration_delay": 25,
            "aws_ecs_container_health_interval": 20,
            "aws_ecs_container_health_timeout": 4,
            "aws_ecs_container_health_retries": 5,
            "aws_ecs_container_health_start_period": 40,
            "aws_ecs_alb_idle_timeout": 90,
            "aws_ecs_alb_access_logs": True,
            "aws_ecs_alb_access_logs_prefix": "lb2",
        },
    )
    elbv2, ecs = stack.client("elbv2"), stack.client("ecs")
    tg = elbv2.describe_target_groups(Names=[f"{PREFIX}-app"])["TargetGroups"][0]
    attrs = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
            "Attributes"
        ]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "25", "aws_ecs_deregistration_delay"
    lb = elbv2.describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]
    lb_attrs = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Attributes"
        ]
    }
    assert lb_attrs["idle_timeout.timeout_seconds"] == "90", "aws_ecs_alb_idle_timeout"
    assert lb_attrs["access_logs.s3.enabled"] == "true", "aws_ecs_alb_access_logs"
    assert lb_attrs["access_logs.s3.bucket"] == BUCKETS[2], "aws_ecs_alb_access_logs_bucket"
    assert lb_attrs["access_logs.s3.prefix"] == "lb2", "aws_ecs_alb_access_logs_prefix"
    svc = ecs.describe_services(cluster=PREFIX, services=[f"{PREFIX}-app"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    check = td["containerDefinitions"][0]["healthCheck"]
    assert check["interval"] == 20, "aws_ecs_container_health_interval"
    assert check["timeout"] == 4, "aws_ecs_container_health_timeout"
    assert check["retries"] == 5, "aws_ecs_container_health_retries"
    assert check["startPeriod"] == 40, "aws_ecs_container_health_start_period"


# --- aws_budget -------------------------------------------------------------------------


def test_aws_budget(stack: Stack) -> None:
    sns = stack.client("sns")
    topic = sns.create_topic(Name="someone-elses-topic")["TopicArn"]
    stack.change(
        "aws_budget",
        {
            "aws_budget_limit_usd": 75,
            "aws_budget_time_unit": "QUARTERLY",
            "aws_budget_thresholds_percent": [50, 80],
            "aws_budget_forecast_alert": False,
            "aws_budget_emails": ["finance@example.org"],
            "aws_budget_sns_topic_arn": topic,
        },
    )
    budgets = stack.client("budgets")
    name = f"{PREFIX}-monthly"
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]
    assert float(budget["BudgetLimit"]["Amount"]) == 75.0, "aws_budget_limit_usd"
    assert budget["TimeUnit"] == "QUARTERLY", "aws_budget_time_unit"
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)[
        "Notifications"
    ]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notes) == [
        ("ACTUAL", 50.0),
        ("ACTUAL", 80.0),
    ], "aws_budget_thresholds_percent / aws_budget_forecast_alert"
    subs = budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=notes[0]
    )["Subscribers"]
    assert sorted((s["SubscriptionType"], s["Address"]) for s in subs) == [
        ("EMAIL", "finance@example.org"),
        ("SNS", topic),
    ], "aws_budget_emails / aws_budget_sns_topic_arn"


# --- tags -------------------------------------------------------------------------------


def _kv(
    tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def _every_tagged_resource(stack: Stack) -> dict[str, dict[str, str]]:
    """Tags of every taggable resource the emulated stack has, by a readable name."""
    c = stack.client
    found: dict[str, dict[str, str]] = {}
    ec2 = c("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [PREFIX]}])["Vpcs"][0]
    found["vpc"] = _kv(vpc["Tags"])
    only = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    for s in ec2.describe_subnets(Filters=only)["Subnets"]:
        found[f"subnet {_kv(s['Tags'])['Name']}"] = _kv(s["Tags"])
    for g in ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
    )["InternetGateways"]:
        found["internet gateway"] = _kv(g.get("Tags"))
    for rt in ec2.describe_route_tables(Filters=only)["RouteTables"]:
        if not any(a.get("Main") for a in rt.get("Associations", [])):
            found[f"route table {_kv(rt.get('Tags')).get('Name')}"] = _kv(rt.get("Tags"))
    for g in ec2.describe_security_groups(Filters=only)["SecurityGroups"]:
        if g["GroupName"] != "default":
            found[f"security group {g['GroupName']}"] = _kv(g.get("Tags"))
    s3 = c("s3")
    for b in BUCKETS:
        found[f"bucket {b}"] = _kv(s3.get_bucket_tagging(Bucket=b)["TagSet"])
    sm = c("secretsmanager")
    for s in SECRETS:
        found[f"secret {s}"] = _kv(sm.describe_secret(SecretId=s).get("Tags"))
    iam = c("iam")
    for r in iam.list_roles()["Roles"]:
        if r["RoleName"].startswith(PREFIX):
            found[f"IAM role {r['RoleName']}"] = _kv(
                iam.list_role_tags(RoleName=r["RoleName"])["Tags"]
            )
    ct = c("cloudtrail")
    trail = ct.get_trail(Name=f"{PREFIX}-trail")["Trail"]["TrailARN"]
    found["trail"] = _kv(ct.list_tags(ResourceIdList=[trail])["ResourceTagList"][0]["TagsList"])
    ecs = c("ecs")
    cluster = ecs.describe_clusters(clusters=[PREFIX], include=["TAGS"])["clusters"][0]
    found["ECS cluster"] = _kv(cluster.get("tags"), "key", "value")
    svc = ecs.describe_services(cluster=PREFIX, services=[f"{PREFIX}-app"], include=["TAGS"])[
        "services"
    ][0]
    found["ECS service"] = _kv(svc.get("tags"), "key", "value")
    td = ecs.list_tags_for_resource(resourceArn=svc["taskDefinition"])["tags"]
    found["task definition"] = _kv(td, "key", "value")
    elbv2 = c("elbv2")
    lb = elbv2.describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]
    tg = elbv2.describe_target_groups(Names=[f"{PREFIX}-app"])["TargetGroups"][0]
    for label, arn in (("ALB", lb["LoadBalancerArn"]), ("target group", tg["TargetGroupArn"])):
        found[label] = _kv(elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"])
    logs = c("logs")
    found["log group"] = logs.list_tags_log_group(logGroupName=f"/ecs/{PREFIX}-app")["tags"]
    ecr = c("ecr")
    repo = ecr.describe_repositories(repositoryNames=[f"{PREFIX}-app"])["repositories"][0]
    found["ECR repository"] = _kv(
        ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    )
    sns = c("sns")
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:{PREFIX}-alerts"
    found["SNS topic"] = _kv(sns.list_tags_for_resource(ResourceArn=topic)["Tags"])
    cw = c("cloudwatch")
    for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]:
        found[f"alarm {a['AlarmName']}"] = _kv(
            cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]
        )
    cf = c("cloudfront")
    for d in cf.list_distributions()["DistributionList"].get("Items", []):
        found["CloudFront distribution"] = _kv(
            cf.list_tags_for_resource(Resource=d["ARN"])["Tags"]["Items"]
        )
    return found


def test_stack_tags_reach_every_resource(stack: Stack) -> None:
    """stack.tags changed (one value changed, one added): every taggable resource reads it."""
    declared = copy.deepcopy(_inventory_stack())
    declared["tags"] = {"CostCenter": "cc-2", "Owner": "data-team"}
    stack.site({"stack": declared})
    again = stack.site({"stack": declared})
    assert again.changed == 0, again.changed_tasks()
    missing = {
        name: tags
        for name, tags in _every_tagged_resource(stack).items()
        if (tags.get("CostCenter"), tags.get("Owner")) != ("cc-2", "data-team")
    }
    assert not missing, f"stack.tags did not reach: {sorted(missing)}"


# --- aws_monitoring ---------------------------------------------------------------------


def _inventory_services() -> list[dict[str, Any]]:
    text = (INVENTORY / "group_vars" / "all" / "main.yml").read_text()
    services: list[dict[str, Any]] = yaml.safe_load(text)["services"]
    return services


def test_aws_monitoring(stack: Stack) -> None:
    """The stack-wide alarm settings, the topic's subscribers, the dashboard's bucket, and a
    service's declared alarm thresholds (services[].alarms), each read from its own alarm."""
    services = copy.deepcopy(_inventory_services())
    services[0]["alarms"].update({"cpu_above": 85, "response_time_above": 3})
    stack.change(
        # aws_ecs publishes the ALB's and target groups' ARNs the ALB alarms are on.
        "aws_ecs,aws_monitoring",
        {
            "services": services,
            "aws_monitoring_alert_emails": ["oncall@example.org"],
            "aws_monitoring_period_seconds": 120,
            "aws_monitoring_5xx_rate_percent": 7,
            "aws_monitoring_elb_5xx_count": 20,
            "aws_monitoring_s3_bucket": BUCKETS[1],
        },
    )
    cw, sns = stack.client("cloudwatch"), stack.client("sns")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]}
    elb = alarms[f"{PREFIX}-alb-elb-5xx"]
    assert elb["Threshold"] == 20.0, "aws_monitoring_elb_5xx_count"
    assert elb["Period"] == 120, "aws_monitoring_period_seconds"
    rate = alarms[f"{PREFIX}-alb-target-5xx-rate"]
    assert rate["Threshold"] == 7.0, "aws_monitoring_5xx_rate_percent"
    assert {m["MetricStat"]["Period"] for m in rate["Metrics"] if "MetricStat" in m} == {120}
    by_metric = {(a.get("Namespace"), a.get("MetricName")): a for a in alarms.values()}
    assert by_metric[("AWS/ECS", "CPUUtilization")]["Threshold"] == 85.0, "alarms.cpu_above"
    assert by_metric[("AWS/ApplicationELB", "TargetResponseTime")]["Threshold"] == 3.0, (
        "alarms.response_time_above"
    )
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:{PREFIX}-alerts"
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "oncall@example.org")], (
        "aws_monitoring_alert_emails"
    )
    body = cw.get_dashboard(DashboardName=PREFIX)["DashboardBody"]
    assert BUCKETS[1] in body and BUCKETS[0] not in body, "aws_monitoring_s3_bucket"


def test_aws_monitoring_dashboard_off(stack: Stack) -> None:
    stack.change("aws_ecs,aws_monitoring", {"aws_monitoring_dashboard": False})
    names = [
        d["DashboardName"] for d in stack.client("cloudwatch").list_dashboards()["DashboardEntries"]
    ]
    assert PREFIX not in names, "aws_monitoring_dashboard"


# --- aws_iam ----------------------------------------------------------------------------


def _trust(stack: Stack, role: str) -> dict[str, Any]:
    doc: dict[str, Any] = stack.client("iam").get_role(RoleName=role)["Role"][
        "AssumeRolePolicyDocument"
    ]
    return doc


def test_aws_iam(stack: Stack) -> None:
    """Who may assume the deploy role (repository, environment), the OIDC provider's
    thumbprints, and a service's declared bucket permissions (its task role's policy)."""
    services = copy.deepcopy(_inventory_services())
    services[0]["permissions"]["buckets"][0]["prefixes"] = ["drawings/", "archive/"]
    thumb = "a" * 40
    stack.change(
        "aws_iam",
        {
            "services": services,
            "aws_iam_github_repository": "other-org/other-repo",
            "aws_iam_github_environment": "staging",
            "aws_iam_github_oidc_thumbprints": [thumb],
        },
    )
    iam = stack.client("iam")
    trust = _trust(stack, f"{PREFIX}-github-deploy")
    sub = trust["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ]
    assert sub == "repo:other-org/other-repo:environment:staging", (
        "aws_iam_github_repository / aws_iam_github_environment"
    )
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    assert got["ThumbprintList"] == [thumb], "aws_iam_github_oidc_thumbprints"
    policy = json.dumps(
        iam.get_role_policy(RoleName=f"{PREFIX}-app-task", PolicyName="least-privilege")[
            "PolicyDocument"
        ]
    )
    assert "archive/" in policy and "models/" not in policy, "services[].permissions.buckets"


def test_aws_iam_given_oidc_provider(stack: Stack) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.org"
    stack.change("aws_iam", {"aws_iam_github_oidc_provider_arn": arn})
    trust = _trust(stack, f"{PREFIX}-github-deploy")
    assert trust["Statement"][0]["Principal"]["Federated"] == arn, (
        "aws_iam_github_oidc_provider_arn"
    )


# --- aws_audit --------------------------------------------------------------------------


def test_aws_audit(stack: Stack) -> None:
    """The trail's prefix, the audit objects' retention, the ALB log prefix in the bucket's
    policy, and VPC Flow Logs (switched on, with their traffic and retention)."""
    stack.change(
        # aws_network publishes the VPC id the flow logs attach to.
        "aws_network,aws_audit",
        {
            "aws_audit_trail_prefix": "trail2",
            "aws_audit_retention_days": 200,
            "aws_audit_alb_access_logs": True,
            "aws_audit_alb_prefix": "lb2",
            "aws_audit_flow_logs": True,
            "aws_audit_flow_logs_destination": "cloud-watch-logs",
            "aws_audit_flow_logs_retention_days": 14,
            "aws_audit_flow_logs_traffic": "REJECT",
        },
    )
    ct, s3, ec2, logs = (stack.client(s) for s in ("cloudtrail", "s3", "ec2", "logs"))
    trail = ct.get_trail(Name=f"{PREFIX}-trail")["Trail"]
    assert trail.get("S3KeyPrefix") == "trail2", "aws_audit_trail_prefix"
    bucket = BUCKETS[2]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["Expiration"]["Days"] for r in rules if "Expiration" in r] == [200], (
        "aws_audit_retention_days"
    )
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    assert "/lb2/" in policy, "aws_audit_alb_access_logs / aws_audit_alb_prefix"
    assert "/trail2/" in policy, "aws_audit_trail_prefix (bucket policy)"
    flows = ec2.describe_flow_logs()["FlowLogs"]
    assert [(f["TrafficType"], f["LogDestinationType"]) for f in flows] == [
        ("REJECT", "cloud-watch-logs")
    ], "aws_audit_flow_logs / _traffic / _destination"
    group = logs.describe_log_groups(logGroupNamePrefix=f"/vpc/{PREFIX}/flow-logs")["logGroups"]
    assert [g.get("retentionInDays") for g in group] == [14], "aws_audit_flow_logs_retention_days"


# --- aws_cdn ----------------------------------------------------------------------------


def test_aws_cdn(stack: Stack) -> None:
    """Every origin and cache setting of the distribution, read from its configuration."""
    elbv2 = stack.client("elbv2")
    dns = elbv2.describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"][0]["DNSName"]
    stack.change(
        "aws_cdn",
        {
            "aws_cdn_origin_domain": f"origin2.{dns}",
            "aws_cdn_origin_protocol": "match-viewer",
            "aws_cdn_origin_http_port": 8080,
            "aws_cdn_origin_https_port": 8443,
            "aws_cdn_origin_read_timeout": 45,
            "aws_cdn_origin_keepalive_timeout": 10,
            "aws_cdn_origin_secret_header": "X-Origin-Check",
            "aws_cdn_static_path": "/assets/*",
            "aws_cdn_static_default_ttl": 3600,
            "aws_cdn_static_max_ttl": 7200,
            "aws_cdn_sse_path": "/api/stream",
            "aws_cdn_forwarded_headers": ["Accept", "Origin"],
            "aws_cdn_price_class": "PriceClass_200",
        },
    )
    cf = stack.client("cloudfront")
    (summary,) = cf.list_distributions()["DistributionList"]["Items"]
    config = cf.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    (origin,) = config["Origins"]["Items"]
    custom = origin["CustomOriginConfig"]
    assert origin["DomainName"] == f"origin2.{dns}", "aws_cdn_origin_domain"
    assert custom["OriginProtocolPolicy"] == "match-viewer", "aws_cdn_origin_protocol"
    assert custom["HTTPPort"] == 8080, "aws_cdn_origin_http_port"
    assert custom["HTTPSPort"] == 8443, "aws_cdn_origin_https_port"
    assert custom["OriginReadTimeout"] == 45, "aws_cdn_origin_read_timeout"
    assert custom["OriginKeepaliveTimeout"] == 10, "aws_cdn_origin_keepalive_timeout"
    headers = [h["HeaderName"] for h in origin["CustomHeaders"]["Items"]]
    assert headers == ["X-Origin-Check"], "aws_cdn_origin_secret_header"
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]}
    assert sorted(behaviors) == ["/api/stream", "/assets/*"], "aws_cdn_static_path / _sse_path"
    static = behaviors["/assets/*"]
    assert (static["DefaultTTL"], static["MaxTTL"]) == (3600, 7200), (
        "aws_cdn_static_default_ttl / _max_ttl"
    )
    fwd = config["DefaultCacheBehavior"]["ForwardedValues"]["Headers"].get("Items", [])
    assert sorted(fwd) == ["Accept", "Origin"], "aws_cdn_forwarded_headers"
    assert config["PriceClass"] == "PriceClass_200", "aws_cdn_price_class"


def test_aws_audit_flow_logs_to_s3(stack: Stack) -> None:
    stack.change(
        "aws_network,aws_audit",
        {"aws_audit_flow_logs": True, "aws_audit_flow_logs_destination": "s3"},
    )
    flows = stack.client("ec2").describe_flow_logs()["FlowLogs"]
    assert [f["LogDestinationType"] for f in flows] == ["s3"], "aws_audit_flow_logs_destination"
    assert flows[0]["LogDestination"].startswith(f"arn:aws:s3:::{BUCKETS[2]}")


def test_aws_audit_cloudtrail_off(stack: Stack) -> None:
    """Last: the trail is gone after this (the tag test reads it before)."""
    stack.change("aws_audit", {"aws_audit_cloudtrail": False})
    trails = stack.client("cloudtrail").describe_trails()["trailList"]
    assert [t["Name"] for t in trails if t["Name"].startswith(PREFIX)] == [], "aws_audit_cloudtrail"
