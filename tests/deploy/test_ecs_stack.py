"""roles/aws_ecs with several services against moto: built, re-run, changed and read back.

One stack is built per module and the tests run in order against it (each step starts from the
state the one before left): a stateful Crayon-like service alone, then a seed-002-like
stateless one added beside it on /dash/*, then variables changed one at a time.

moto quirks (tests/support and shared/recipes/local-aws.md): CreateService drops the grace
period, the deployment configuration and the capacity-provider strategy, so the run after a
service is created sets them once; only those writes are allowed in that settle run.
"""

from __future__ import annotations

import copy
import datetime
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support import collection
from tests.support import ecs_stack as E
from tests.support.moto_server import MotoServer
from tests.support.playbook import PlaybookRun, run_playbook

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "deploy" / "playbooks" / "ecs_only.yml"
SETTLE = E.MOTO_SETTLE_TASKS


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


WANTED = _load("aws_ecs_wanted", REPO / "roles/aws_ecs/filter_plugins/aws_ecs_wanted.py")
DIFF = collection.module("ecs_stack_diff")


@pytest.fixture(scope="module")
def env(moto: MotoServer) -> Iterator[dict[str, str]]:
    moto.reset()
    environment = moto.env()
    E.build_prerequisites(environment)
    E.push_image(environment, "crayon-emulated-app", "1.0")
    yield environment


def _run(
    env: dict[str, str], *services: dict[str, Any], check: bool = False, **extra: Any
) -> PlaybookRun:
    run = run_playbook(PLAYBOOK, env, E.role_vars(*services, **extra), check=check)
    assert run.failed == 0 and run.returncode == 0, run.output[-5000:]
    return run


def _converge(env: dict[str, str], *services: dict[str, Any], **extra: Any) -> PlaybookRun:
    """Build, let moto's dropped create-time settings be set once, then prove a no-op."""
    _run(env, *services, **extra)
    settle = _run(env, *services, **extra)
    assert set(settle.changed_tasks()) <= SETTLE, settle.changed_tasks()
    again = _run(env, *services, **extra)
    assert again.changed == 0, again.changed_tasks()
    return again


def _settings(**over: Any) -> dict[str, Any]:
    """What vars/main.yml gives the filter with the role's defaults."""
    base = {
        "region": E.REGION,
        "certificate_arn": "",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "private_subnets": False,
        "deregistration_delay": 10,
        "container_health": {"interval": 30, "timeout": 5, "retries": 3, "start_period": 30},
        "alb_idle_timeout": 60,
        "alb_drop_invalid_headers": False,
        "alb_access_logs": False,
        "alb_access_logs_bucket": "",
        "alb_access_logs_prefix": "alb",
        "deploy_image_tag": "",
        "deploy_services": [],
    }
    return {**base, **over}


def _wanted(*services: dict[str, Any]) -> dict[str, Any]:
    v = E.role_vars(*services)
    result: dict[str, Any] = WANTED.aws_ecs_wanted(
        v["aws_ecs_services"], v["aws_ecs_names"], _settings(), {}
    )
    return result


def _service(env: dict[str, str], name: str) -> dict[str, Any]:
    found = E.client(env, "ecs").describe_services(
        cluster=E.PREFIX, services=[f"{E.PREFIX}-{name}"], include=["TAGS"]
    )["services"]
    assert found, name
    svc: dict[str, Any] = found[0]
    return svc


def _rules(env: dict[str, str]) -> list[dict[str, Any]]:
    elbv2 = E.client(env, "elbv2")
    lb = elbv2.describe_load_balancers(Names=[f"{E.PREFIX}-alb"])["LoadBalancers"][0]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert [li["Port"] for li in listeners] == [80]
    rules: list[dict[str, Any]] = elbv2.describe_rules(ListenerArn=listeners[0]["ListenerArn"])[
        "Rules"
    ]
    return rules


def _paths(rule: dict[str, Any]) -> list[str]:
    (c,) = [c for c in rule["Conditions"] if c["Field"] == "path-pattern"]
    return sorted(c.get("PathPatternConfig", {}).get("Values") or c["Values"])


def _tg_arn(env: dict[str, str], name: str) -> str:
    elbv2 = E.client(env, "elbv2")
    arn: str = elbv2.describe_target_groups(Names=[f"{E.PREFIX}-{name}"])["TargetGroups"][0][
        "TargetGroupArn"
    ]
    return arn


def test_one_service_then_a_second_beside_it(env: dict[str, str]) -> None:
    _converge(env, E.app_service())
    app = _service(env, "app")
    assert app["desiredCount"] == 1
    first_revision = app["taskDefinition"]

    # The dashboard has no image in ECR yet: it is created without tasks, and says so.
    _converge(env, E.app_service(), E.dash_service())
    assert _service(env, "app")["taskDefinition"] == first_revision
    assert _service(env, "dash")["desiredCount"] == 0
    rerun = _run(env, E.app_service(), E.dash_service())
    assert "crayon-emulated-dash has no task" in rerun.output

    check = _run(env, E.app_service(), E.dash_service(), check=True)
    assert check.changed == 0, check.changed_tasks()


def test_each_service_reads_back_as_declared(env: dict[str, str]) -> None:
    ecs, elbv2, logs = (E.client(env, s) for s in ("ecs", "elbv2", "logs"))
    aas = E.client(env, "application-autoscaling")
    for decl in (E.app_service(), E.dash_service()):
        n = decl["names"]
        svc = _service(env, decl["name"])
        dc = svc["deploymentConfiguration"]
        if decl["stateful"]:
            assert (dc["minimumHealthyPercent"], dc["maximumPercent"]) == (0, 100)
        else:
            assert (dc["minimumHealthyPercent"], dc["maximumPercent"]) == (100, 200)
        assert dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert svc["healthCheckGracePeriodSeconds"] == decl["health"]["grace"]
        assert svc["propagateTags"] == "SERVICE"
        assert {t["key"]: t["value"] for t in svc["tags"]} == E.TAGS
        assert sorted(
            (c["capacityProvider"], c["base"], c["weight"]) for c in svc["capacityProviderStrategy"]
        ) == sorted((c["provider"], c["base"], c["weight"]) for c in decl["capacity"])

        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        assert (td["cpu"], td["memory"]) == (str(decl["cpu"]), str(decl["memory"]))
        assert td["runtimePlatform"]["cpuArchitecture"] == decl["architecture"]
        container = td["containerDefinitions"][0]
        assert container["portMappings"][0]["containerPort"] == decl["port"]
        assert {e["name"]: e["value"] for e in container["environment"]} == decl["environment"]
        assert sorted(s["name"] for s in container.get("secrets", [])) == sorted(decl["secrets"])
        for s in container.get("secrets", []):
            key = decl["secrets"][s["name"]]["key"]
            assert s["valueFrom"].startswith("arn:aws:secretsmanager:")
            assert s["valueFrom"].endswith(f":{key}::" if key else s["valueFrom"][-6:])
        assert container["logConfiguration"]["options"]["awslogs-group"] == n["log_group"]

        tg = elbv2.describe_target_groups(Names=[n["target_group"]])["TargetGroups"][0]
        h = decl["health"]
        assert (
            tg["HealthCheckPath"],
            tg["HealthCheckIntervalSeconds"],
            tg["HealthCheckTimeoutSeconds"],
            tg["HealthyThresholdCount"],
            tg["UnhealthyThresholdCount"],
            tg["Port"],
        ) == (h["path"], h["interval"], h["timeout"], h["healthy"], h["unhealthy"], decl["port"])

        group = logs.describe_log_groups(logGroupNamePrefix=n["log_group"])["logGroups"][0]
        assert group["retentionInDays"] == decl["logs"]["retention_days"]
        assert logs.list_tags_log_group(logGroupName=n["log_group"])["tags"] == E.TAGS

        resource = f"service/{E.PREFIX}/{n['service']}"
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
        policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
        if decl["stateful"]:
            assert policies["ScalingPolicies"] == []
        else:
            t = targets["ScalableTargets"][0]
            assert (t["MinCapacity"], t["MaxCapacity"]) == (
                decl["count"]["min"],
                decl["count"]["max"],
            )
            p = policies["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]
            assert p["TargetValue"] == decl["scaling"]["target"]
            assert p["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
                "ECSServiceAverageCPUUtilization"
            )
            assert (p["ScaleOutCooldown"], p["ScaleInCooldown"]) == (60, 300)

    rules = _rules(env)
    default = next(r for r in rules if r["IsDefault"])
    assert default["Actions"][0]["TargetGroupArn"] == _tg_arn(env, "app")
    dash = [r for r in rules if not r["IsDefault"]]
    assert len(dash) == 1 and dash[0]["Priority"] == "10"
    assert _paths(dash[0]) == ["/dash/*"]
    assert dash[0]["Actions"][0]["TargetGroupArn"] == _tg_arn(env, "dash")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _mutate(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    if isinstance(value, list):
        return [*value, "/changed/*"] if value else ["changed"]
    return f"{value}-changed"


def test_every_wanted_field_is_compared(env: dict[str, str]) -> None:
    """Change each field of each resource's wanted state alone: the reader must report it."""
    wanted = _wanted(E.app_service(), E.dash_service())
    read = DIFF.read_all(lambda s: E.client(env, s), wanted)
    baseline = DIFF.compare_all(wanted, read)
    resources = [("cluster",), ("cluster_settings",), ("alb",), ("alb_attributes",)]
    for name, svc in wanted["services"].items():
        resources += [("services", name, r) for r in svc if r != "plan"]
    checked = 0
    for resource in resources:

        def at(d: dict[str, Any], res: tuple[str, ...] = resource) -> Any:
            for k in res:
                d = d[k]
            return d

        assert at(baseline)["in_sync"], (resource, at(baseline)["differs"])
        for leaf in _leaves(at(wanted)):
            absent = resource[-1] in ("scaling", "scaling_cpu") and at(wanted)["state"] == "absent"
            if absent and leaf != ("state",):
                continue  # an absent policy has no settings, only its absence
            changed = copy.deepcopy(wanted)
            parent = at(changed)
            for k in leaf[:-1]:
                parent = parent[k]
            parent[leaf[-1]] = _mutate(parent[leaf[-1]])
            got = at(DIFF.compare_all(changed, read))
            assert not got["in_sync"], f"{resource} {leaf}: a change is not seen"
            assert leaf[0] in got["differs"] or "(missing)" in got["differs"], (
                resource,
                leaf,
                got["differs"],
            )
            checked += 1
    assert checked > 100


def test_scaled_out_count_is_kept_by_site_and_deploy(env: dict[str, str]) -> None:
    app, dash = E.app_service(), E.dash_service()
    E.push_image(env, "crayon-emulated-dash", "1.0")
    _run(env, app, dash)  # the image is there now: the dashboard gets its 2 tasks
    assert _service(env, "dash")["desiredCount"] == 2

    # Auto-scaling raises the count under load...
    E.client(env, "ecs").update_service(
        cluster=E.PREFIX, service=f"{E.PREFIX}-dash", desiredCount=5
    )
    rerun = _run(env, app, dash)
    assert rerun.changed == 0, rerun.changed_tasks()
    assert _service(env, "dash")["desiredCount"] == 5

    # ...and a deploy of a new image keeps it too; the stateful app is not touched.
    E.push_image(env, "crayon-emulated-dash", "1.1")
    app_revision = _service(env, "app")["taskDefinition"]
    deploy = _run(
        env,
        app,
        dash,
        aws_ecs_deploy_image_tag="1.1",
        aws_ecs_deploy_repository="crayon-emulated-dash",
    )
    assert "crayon-emulated-dash: crayon-emulated-dash:" in deploy.output
    svc = _service(env, "dash")
    assert svc["desiredCount"] == 5
    td = E.client(env, "ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])
    assert td["taskDefinition"]["containerDefinitions"][0]["image"].endswith(":1.1")
    assert _service(env, "app")["taskDefinition"] == app_revision

    # The next site.yml run keeps the deployed image (and the count).
    again = _run(env, app, dash)
    assert again.changed == 0, again.changed_tasks()


def test_capacity_and_settings_changes_are_applied(env: dict[str, str]) -> None:
    app, dash = E.app_service(), E.dash_service()
    dash["capacity"] = [
        {"provider": "FARGATE", "base": 1, "weight": 1},
        {"provider": "FARGATE_SPOT", "base": 0, "weight": 2},
    ]
    dash["health"]["interval"] = 20
    dash["logs"]["retention_days"] = 14
    dash["count"]["max"] = 6
    dash["scaling"] = {**dash["scaling"], "metric": "requests", "target": 500}
    dash["routing"] = {"paths": ["/dash/*", "/reports/*"], "hosts": [], "priority": 20}
    changed = _run(env, app, dash)
    assert changed.changed > 0
    again = _run(env, app, dash)
    assert again.changed == 0, again.changed_tasks()

    svc = _service(env, "dash")
    assert sorted(
        (c["capacityProvider"], c["base"], c["weight"]) for c in svc["capacityProviderStrategy"]
    ) == [("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 2)]
    assert svc["desiredCount"] == 5  # still auto-scaling's
    elbv2, logs = E.client(env, "elbv2"), E.client(env, "logs")
    tg = elbv2.describe_target_groups(Names=[f"{E.PREFIX}-dash"])["TargetGroups"][0]
    assert tg["HealthCheckIntervalSeconds"] == 20
    group = logs.describe_log_groups(logGroupNamePrefix="/ecs/vibejudge-dashboard")["logGroups"][0]
    assert group["retentionInDays"] == 14
    aas = E.client(env, "application-autoscaling")
    resource = f"service/{E.PREFIX}/{E.PREFIX}-dash"
    target = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
    assert target["ScalableTargets"][0]["MaxCapacity"] == 6
    policy = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
    config = policy["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]
    metric = config["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    lb = elbv2.describe_load_balancers(Names=[f"{E.PREFIX}-alb"])["LoadBalancers"][0]
    assert metric["ResourceLabel"] == (
        lb["LoadBalancerArn"].split(":loadbalancer/")[1]
        + "/"
        + _tg_arn(env, "dash").rsplit(":", 1)[1]
    )
    rule = next(r for r in _rules(env) if not r["IsDefault"])
    assert rule["Priority"] == "20"
    assert _paths(rule) == ["/dash/*", "/reports/*"]


def test_a_tag_change_reaches_every_resource(env: dict[str, str]) -> None:
    app, dash = E.app_service(), E.dash_service()
    tags = {**E.TAGS, "CostCenter": "42"}
    _run(env, app, dash, tags=tags)
    again = _run(env, app, dash, tags=tags)
    assert again.changed == 0, again.changed_tasks()
    logs, elbv2 = E.client(env, "logs"), E.client(env, "elbv2")
    for decl in (app, dash):
        n = decl["names"]
        assert logs.list_tags_log_group(logGroupName=n["log_group"])["tags"] == tags
        desc = elbv2.describe_tags(ResourceArns=[_tg_arn(env, decl["name"])])["TagDescriptions"]
        assert {t["Key"]: t["Value"] for t in desc[0]["Tags"]} == tags
        assert {t["key"]: t["value"] for t in _service(env, decl["name"])["tags"]} == tags
    lb = elbv2.describe_load_balancers(Names=[f"{E.PREFIX}-alb"])["LoadBalancers"][0]
    desc = elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"]
    assert {t["Key"]: t["Value"] for t in desc[0]["Tags"]} == tags


def test_a_service_no_longer_declared_is_reported_and_its_rule_removed(
    env: dict[str, str],
) -> None:
    # Someone else's rule on the same listener, to a target group the stack does not name.
    elbv2 = E.client(env, "elbv2")
    vpc = elbv2.describe_target_groups(Names=[f"{E.PREFIX}-app"])["TargetGroups"][0]["VpcId"]
    other = elbv2.create_target_group(
        Name="someone-else", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.describe_rules(RuleArns=[_rules(env)[0]["RuleArn"]])["Rules"][0]
    listener_arn = listener["RuleArn"].replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
    elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=500,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/other/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": other}],
    )

    run = _run(env, E.app_service())
    assert "Not declared any more, left running: crayon-emulated-dash" in run.output
    assert "Listener rules of services no longer in the inventory were removed" in run.output
    left = [r for r in _rules(env) if not r["IsDefault"]]
    assert [(r["Priority"], r["Actions"][0]["TargetGroupArn"]) for r in left] == [("500", other)]
    again = _run(env, E.app_service())
    assert again.changed == 0, again.changed_tasks()
    assert _service(env, "dash")["status"] == "ACTIVE"  # reported, not deleted


def _certificate(env: dict[str, str]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crayon.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    arn: str = E.client(env, "acm").import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )["CertificateArn"]
    return arn


def test_a_certificate_moves_the_rules_to_https_and_http_redirects(env: dict[str, str]) -> None:
    arn = _certificate(env)
    app, dash = E.app_service(), E.dash_service()
    _run(env, app, dash, aws_ecs_certificate_arn=arn)
    again = _run(env, app, dash, aws_ecs_certificate_arn=arn)
    assert again.changed == 0, again.changed_tasks()
    elbv2 = E.client(env, "elbv2")
    lb = elbv2.describe_load_balancers(Names=[f"{E.PREFIX}-alb"])["LoadBalancers"][0]
    listeners = {
        li["Port"]: li
        for li in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    assert sorted(listeners) == [80, 443]
    redirect = listeners[80]["DefaultActions"][0]
    assert (redirect["Type"], redirect["RedirectConfig"]["StatusCode"]) == ("redirect", "HTTP_301")
    assert listeners[443]["Certificates"][0]["CertificateArn"] == arn
    assert listeners[443]["DefaultActions"][0]["TargetGroupArn"] == _tg_arn(env, "app")
    on_443 = elbv2.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
    dash_rule = [r for r in on_443 if not r["IsDefault"]]
    assert [(r["Priority"], _paths(r)) for r in dash_rule] == [("10", ["/dash/*"])]


def test_destroy_removes_the_stack(env: dict[str, str]) -> None:
    run = run_playbook(
        PLAYBOOK, env, {**E.role_vars(E.app_service(), E.dash_service()), "ecs_state": "absent"}
    )
    assert run.failed == 0, run.output[-4000:]
    ecs, elbv2 = E.client(env, "ecs"), E.client(env, "elbv2")
    clusters = ecs.describe_clusters(clusters=[E.PREFIX])["clusters"]
    assert all(c["status"] != "ACTIVE" for c in clusters)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    groups = E.client(env, "logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == []
