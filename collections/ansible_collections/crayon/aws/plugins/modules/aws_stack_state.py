#!/usr/bin/python
"""Read the current state of a Crayon stack in one process (read-only).

Every amazon.aws / community.aws module call costs about a second and a half here (a Python
process, botocore, the collection's module_utils); a no-op site.yml run made of ~45 such calls
took ~55 s. This module reads, in one process, what the roles manage and returns it in a
normalised shape; each role compares that with what it wants and calls the real module only
where something differs or is missing. It never changes anything.
"""

from __future__ import annotations

import json

DOCUMENTATION = r"""
module: aws_stack_state
short_description: Read, in one call, the current state of the resources a Crayon role manages
description:
  - Read-only. Returns normalised facts that the roles compare with their wanted state so
    that unchanged resources need no module call. Supports check mode.
options:
  vpc_name:
    description: Name tag of the VPC (network facts).
    type: str
  vpc_cidr:
    description: CIDR of the VPC.
    type: str
  buckets:
    description: Bucket names to describe (storage facts).
    type: list
    elements: str
    default: []
  secrets:
    description: Secret names to describe (ARN, description, tags).
    type: list
    elements: str
    default: []
  repository:
    description: ECR repository to describe.
    type: str
  roles:
    description: IAM role names to describe, with their inline policies.
    type: list
    elements: str
    default: []
  oidc_url:
    description: OIDC provider URL to look up.
    type: str
  log_group:
    description: CloudWatch log group to describe.
    type: str
  cluster:
    description: ECS cluster to describe.
    type: str
  service:
    description: ECS service (in cluster) to describe, with its task definition.
    type: str
  target_group:
    description: Target group name to describe.
    type: str
  load_balancer:
    description: ALB name to describe, with listeners and attributes.
    type: str
  family:
    description: Task definition family whose ACTIVE revisions to list.
    type: str
  sns_topic:
    description: SNS topic name to look up (ARN, display name, subscriptions, tags).
    type: str
  alarms:
    description: Metric alarm names to describe (in cloudwatch_metric_alarm_info's shape).
    type: list
    elements: str
    default: []
  alarm_prefix:
    description: Describe every metric alarm whose name starts with this (same shape as alarms).
    type: str
  distribution_comment:
    description: The CloudFront distribution whose comment is exactly this (its summary).
    type: str
  dashboard:
    description: CloudWatch dashboard to read (ARN and parsed body).
    type: str
  budget:
    description: Cost budget (in the caller's account) to read with its notifications.
    type: str
  caller:
    description: Also return the caller's account id (STS GetCallerIdentity).
    type: bool
    default: false
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Current network
  crayon.aws.aws_stack_state:
    vpc_name: crayon-production
    vpc_cidr: 10.0.0.0/16
  register: state
"""

RETURN = r"""
state:
  description: Normalised current state; keys present only for what was asked.
  returned: always
  type: dict
"""

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from ansible.module_utils.common.dict_transformations import (  # noqa: E402
    camel_dict_to_snake_dict,
)
from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    ClientError,
    Clients,
    is_missing,
    tags_dict,
)
from ansible_collections.crayon.aws.plugins.module_utils.ecs import task_definition_arns  # noqa: E402
from ansible_collections.crayon.aws.plugins.module_utils.iam import (  # noqa: E402
    read_oidc_provider,
    read_role,
)
from ansible_collections.crayon.aws.plugins.module_utils.network import read_network  # noqa: E402


def _lifecycle_rule(r: dict) -> dict:
    """A lifecycle rule in the shape the roles describe theirs (see aws_storage)."""
    prefix = r.get("Filter", {}).get("Prefix", r.get("Prefix", ""))
    return {
        "prefix": prefix,
        "status": r.get("Status", "").lower(),
        "transitions": sorted(
            [t.get("Days"), t["StorageClass"].lower()] for t in r.get("Transitions", [])
        ),
        "noncurrent_transitions": sorted(
            [t.get("NoncurrentDays"), t["StorageClass"].lower()]
            for t in r.get("NoncurrentVersionTransitions", [])
        ),
        "noncurrent_expiration_days": r.get("NoncurrentVersionExpiration", {}).get(
            "NoncurrentDays"
        ),
        "expiration_days": r.get("Expiration", {}).get("Days"),
        "abort_days": r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
    }


def bucket(s3, name: str) -> dict | None:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as e:
        if is_missing(e, "404", "NoSuchBucket", "NotFound"):
            return None
        raise
    out: dict = {"name": name}
    out["versioning"] = s3.get_bucket_versioning(Bucket=name).get("Status", "Disabled")
    try:
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][
            0
        ]
        sse = rule["ApplyServerSideEncryptionByDefault"]
        out["encryption"] = {"algorithm": sse["SSEAlgorithm"], "key": sse.get("KMSMasterKeyID", "")}
    except ClientError as e:
        if not is_missing(e, "ServerSideEncryptionConfigurationNotFoundError"):
            raise
        out["encryption"] = None
    try:
        out["public_access_block"] = s3.get_public_access_block(Bucket=name)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as e:
        if not is_missing(e, "NoSuchPublicAccessBlockConfiguration"):
            raise
        out["public_access_block"] = None
    try:
        out["policy"] = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    except ClientError as e:
        if not is_missing(e, "NoSuchBucketPolicy"):
            raise
        out["policy"] = None
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    except ClientError as e:
        if not is_missing(e, "NoSuchLifecycleConfiguration"):
            raise
        rules = []
    out["lifecycle"] = {r.get("ID", ""): _lifecycle_rule(r) for r in rules}
    try:
        controls = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        out["object_ownership"] = controls[0]["ObjectOwnership"]
    except ClientError as e:
        if not is_missing(e, "OwnershipControlsNotFoundError"):
            raise
        out["object_ownership"] = None
    try:
        out["tags"] = tags_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
    except ClientError as e:
        if not is_missing(e, "NoSuchTagSet"):
            raise
        out["tags"] = {}
    return out


def secret(sm, name: str) -> dict | None:
    try:
        d = sm.describe_secret(SecretId=name)
    except ClientError as e:
        if is_missing(e, "ResourceNotFoundException"):
            return None
        raise
    if d.get("DeletedDate"):
        return {"arn": d["ARN"], "deleted": True}
    return {
        "arn": d["ARN"],
        "deleted": False,
        "description": d.get("Description", ""),
        "kms_key_id": d.get("KmsKeyId", ""),
        "tags": tags_dict(d.get("Tags")),
    }


def sns_topic(sns, name: str) -> dict | None:
    arn = None
    for page in sns.get_paginator("list_topics").paginate():
        found = [t["TopicArn"] for t in page["Topics"] if t["TopicArn"].split(":")[-1] == name]
        arn = found[0] if found else None
        if arn:
            break
    if arn is None:
        return None
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    subs = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        subs += [
            {"protocol": x["Protocol"], "endpoint": x["Endpoint"]}
            for x in page["Subscriptions"]
            if x.get("SubscriptionArn") != "Deleted"
        ]
    return {
        "arn": arn,
        "display_name": attrs.get("DisplayName", ""),
        "subscriptions": sorted(subs, key=lambda x: (x["protocol"], x["endpoint"])),
        "tags": tags_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags")),
        "policy": json.loads(attrs["Policy"]) if attrs.get("Policy") else None,
    }


def metric_alarms(cw, names: list[str]) -> dict:
    """name -> the alarm in cloudwatch_metric_alarm_info's snake_case shape, or None."""
    out: dict = dict.fromkeys(names)
    for i in range(0, len(names), 100):
        for page in cw.get_paginator("describe_alarms").paginate(
            AlarmNames=names[i : i + 100], AlarmTypes=["MetricAlarm"]
        ):
            for a in page["MetricAlarms"]:
                if a["AlarmName"] in out:
                    out[a["AlarmName"]] = camel_dict_to_snake_dict(a)
    return out


def alarms_by_prefix(cw, prefix: str) -> dict:
    out: dict = {}
    for page in cw.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
    ):
        out.update({a["AlarmName"]: camel_dict_to_snake_dict(a) for a in page["MetricAlarms"]})
    return out


def distribution(cf, comment: str) -> dict | None:
    """The DistributionSummary (API shape) with this comment, as cloudfront_distribution_info
    lists it; the timestamp is dropped so that the result is plain JSON."""
    for page in cf.get_paginator("list_distributions").paginate():
        for d in page["DistributionList"].get("Items", []):
            if d.get("Comment") == comment:
                found = {k: v for k, v in d.items() if k != "LastModifiedTime"}
                # The summary carries no tags: read them, so that aws_cdn compares them too.
                items = cf.list_tags_for_resource(Resource=d["ARN"])["Tags"].get("Items", [])
                found["Tags"] = {t["Key"]: t.get("Value", "") for t in items}
                return found
    return None


def dashboard(cw, name: str) -> dict | None:
    try:
        d = cw.get_dashboard(DashboardName=name)
    except ClientError as e:
        if is_missing(e, "ResourceNotFound", "ResourceNotFoundException", "ResourceNotFoundFault"):
            return None
        raise
    return {"arn": d.get("DashboardArn", ""), "body": json.loads(d["DashboardBody"])}


def budget(bud, account: str, name: str) -> dict | None:
    """The budget with its notifications; a notification's subscribers are None where the
    endpoint cannot list them (moto has no DescribeSubscribersForNotification)."""
    try:
        b = bud.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except ClientError as e:
        if is_missing(e, "NotFoundException", "NotFound"):
            return None
        raise
    notes = []
    for n in bud.describe_notifications_for_budget(AccountId=account, BudgetName=name).get(
        "Notifications", []
    ):
        try:
            subs = sorted(
                [s["SubscriptionType"], s["Address"]]
                for s in bud.describe_subscribers_for_notification(
                    AccountId=account, BudgetName=name, Notification=n
                ).get("Subscribers", [])
            )
        except AWS_ERRORS:
            subs = None
        notes.append(
            {
                "type": n["NotificationType"],
                "comparison": n["ComparisonOperator"],
                "threshold": float(n["Threshold"]),
                "threshold_type": n.get("ThresholdType", "PERCENTAGE"),
                "subscribers": subs,
            }
        )
    limit = b.get("BudgetLimit", {})
    return {
        "limit": float(limit.get("Amount", "nan")),
        "unit": limit.get("Unit", ""),
        "time_unit": b.get("TimeUnit", ""),
        "type": b.get("BudgetType", ""),
        "notifications": notes,
    }


def repository(ecr, name: str) -> dict | None:
    try:
        r = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as e:
        if is_missing(e, "RepositoryNotFoundException"):
            return None
        raise
    try:
        lifecycle = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
    except ClientError as e:
        if not is_missing(e, "LifecyclePolicyNotFoundException"):
            raise
        lifecycle = None
    try:
        policy = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
    except ClientError as e:
        if not is_missing(e, "RepositoryPolicyNotFoundException"):
            raise
        policy = None
    return {
        "uri": r["repositoryUri"],
        "arn": r["repositoryArn"],
        "scan_on_push": r.get("imageScanningConfiguration", {}).get("scanOnPush", False),
        "tag_mutability": r.get("imageTagMutability", "MUTABLE"),
        "lifecycle_policy": lifecycle,
        "policy": policy,
    }


def ecs_state(module, ecs, elbv2, logs, aas) -> dict:
    p = module.params
    out: dict = {}
    if p["log_group"]:
        groups = logs.describe_log_groups(logGroupNamePrefix=p["log_group"])["logGroups"]
        match = [g for g in groups if g["logGroupName"] == p["log_group"]]
        out["log_group"] = (
            {"retention": match[0].get("retentionInDays"), "arn": match[0]["arn"]}
            if match
            else None
        )
    if p["cluster"]:
        found = ecs.describe_clusters(clusters=[p["cluster"]], include=["SETTINGS"])["clusters"]
        c = found[0] if found and found[0].get("status") == "ACTIVE" else None
        out["cluster"] = (
            {
                "arn": c["clusterArn"],
                "capacity_providers": sorted(c.get("capacityProviders", [])),
                "strategy": [
                    {
                        "capacity_provider": s["capacityProvider"],
                        "weight": s.get("weight", 0),
                        "base": s.get("base", 0),
                    }
                    for s in c.get("defaultCapacityProviderStrategy", [])
                ],
                "settings": {s["name"]: s["value"] for s in c.get("settings", [])},
            }
            if c
            else None
        )
    if p["cluster"] and p["service"] and out.get("cluster"):
        found = ecs.describe_services(cluster=p["cluster"], services=[p["service"]])["services"]
        svc = found[0] if found and found[0].get("status") == "ACTIVE" else None
        out["service"] = None
        if svc:
            td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])[
                "taskDefinition"
            ]
            out["service"] = {
                "arn": svc["serviceArn"],
                "task_definition": f"{td['family']}:{td['revision']}",
                "images": {c["name"]: c["image"] for c in td["containerDefinitions"]},
                "labels": {
                    c["name"]: c.get("dockerLabels", {}) for c in td["containerDefinitions"]
                },
                "desired_count": svc.get("desiredCount"),
                "launch_type": svc.get("launchType"),
                "capacity_provider_strategy": svc.get("capacityProviderStrategy", []),
                "deployment_configuration": svc.get("deploymentConfiguration", {}),
                "health_check_grace_period": svc.get("healthCheckGracePeriodSeconds"),
                "network": svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {}),
                "load_balancers": svc.get("loadBalancers", []),
                "propagate_tags": svc.get("propagateTags"),
                "deployments": len(svc.get("deployments", [])),
            }
    if p["cluster"] and p["service"]:
        resource = f"service/{p['cluster']}/{p['service']}"
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])
        policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)
        out["scaling"] = {
            "targets": [
                {"min": t["MinCapacity"], "max": t["MaxCapacity"]}
                for t in targets["ScalableTargets"]
            ],
            "policies": {
                sp["PolicyName"]: sp.get("TargetTrackingScalingPolicyConfiguration", {})
                for sp in policies["ScalingPolicies"]
            },
        }
    if p["target_group"]:
        try:
            tg = elbv2.describe_target_groups(Names=[p["target_group"]])["TargetGroups"][0]
            attrs = {
                a["Key"]: a["Value"]
                for a in elbv2.describe_target_group_attributes(
                    TargetGroupArn=tg["TargetGroupArn"]
                )["Attributes"]
            }
            out["target_group"] = {
                "arn": tg["TargetGroupArn"],
                "protocol": tg.get("Protocol"),
                "port": tg.get("Port"),
                "vpc_id": tg.get("VpcId"),
                "target_type": tg.get("TargetType"),
                "health_check": {
                    "protocol": tg.get("HealthCheckProtocol"),
                    "port": tg.get("HealthCheckPort"),
                    "path": tg.get("HealthCheckPath"),
                    "interval": tg.get("HealthCheckIntervalSeconds"),
                    "timeout": tg.get("HealthCheckTimeoutSeconds"),
                    "healthy": tg.get("HealthyThresholdCount"),
                    "unhealthy": tg.get("UnhealthyThresholdCount"),
                    "matcher": tg.get("Matcher", {}).get("HttpCode"),
                },
                "deregistration_delay": int(attrs.get("deregistration_delay.timeout_seconds", -1)),
                "tags": tags_dict(
                    elbv2.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][
                        0
                    ].get("Tags")
                ),
            }
        except ClientError as e:
            if not is_missing(e, "TargetGroupNotFound", "TargetGroupNotFoundException"):
                raise
            out["target_group"] = None
    if p["load_balancer"]:
        try:
            lb = elbv2.describe_load_balancers(Names=[p["load_balancer"]])["LoadBalancers"][0]
            arn = lb["LoadBalancerArn"]
            listeners = []
            for li in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
                actions = []
                for a in li.get("DefaultActions", []):
                    if a["Type"] == "forward":
                        actions.append("forward>" + a.get("TargetGroupArn", ""))
                    elif a["Type"] == "redirect":
                        rc = a.get("RedirectConfig", {})
                        actions.append(
                            f"redirect>{rc.get('Protocol')}:{rc.get('Port')}:{rc.get('StatusCode')}"
                        )
                    else:
                        actions.append(a["Type"])
                rules = elbv2.describe_rules(ListenerArn=li["ListenerArn"])["Rules"]
                listeners.append(
                    {
                        "protocol": li["Protocol"],
                        "port": li["Port"],
                        "ssl_policy": li.get("SslPolicy", "") if li["Protocol"] == "HTTPS" else "",
                        "certificates": sorted(
                            c["CertificateArn"] for c in li.get("Certificates", [])
                        ),
                        "actions": actions,
                        "extra_rules": len([r for r in rules if not r.get("IsDefault")]),
                    }
                )
            lb_attrs = {
                a["Key"]: a["Value"]
                for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
            }
            out["load_balancer"] = {
                "arn": arn,
                "dns_name": lb["DNSName"],
                "zone_id": lb["CanonicalHostedZoneId"],
                "scheme": lb.get("Scheme"),
                "subnets": sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", [])),
                "security_groups": sorted(lb.get("SecurityGroups", [])),
                "listeners": sorted(listeners, key=lambda x: x["port"]),
                "attributes": lb_attrs,
                "tags": tags_dict(
                    elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags")
                ),
            }
        except ClientError as e:
            if not is_missing(e, "LoadBalancerNotFound", "LoadBalancerNotFoundException"):
                raise
            out["load_balancer"] = None
    return out


_REQUEST_KEYS = (
    "vpc_name",
    "vpc_cidr",
    "buckets",
    "secrets",
    "repository",
    "roles",
    "oidc_url",
    "log_group",
    "cluster",
    "service",
    "target_group",
    "load_balancer",
    "sns_topic",
    "alarm_prefix",
    "distribution_comment",
    "dashboard",
    "budget",
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "vpc_name": {"type": "str"},
            "vpc_cidr": {"type": "str"},
            "buckets": {"type": "list", "elements": "str", "default": []},
            "secrets": {"type": "list", "elements": "str", "default": []},
            "repository": {"type": "str"},
            "roles": {"type": "list", "elements": "str", "default": []},
            "oidc_url": {"type": "str"},
            "log_group": {"type": "str"},
            "cluster": {"type": "str"},
            "service": {"type": "str"},
            "target_group": {"type": "str"},
            "load_balancer": {"type": "str"},
            "family": {"type": "str"},
            "sns_topic": {"type": "str"},
            "alarms": {"type": "list", "elements": "str", "default": []},
            "alarm_prefix": {"type": "str"},
            "distribution_comment": {"type": "str"},
            "dashboard": {"type": "str"},
            "budget": {"type": "str"},
            "caller": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    client = Clients(module)
    # The request is echoed so that a role can tell whether a read made up front (preflight)
    # covers exactly the names it manages.
    state: dict = {"request": {k: v for k, v in p.items() if k in _REQUEST_KEYS}}
    try:
        if p["caller"] or p["budget"]:
            state["account"] = client("sts").get_caller_identity()["Account"]
        # Independent reads run side by side: against AWS each of the ~80 calls is a round
        # trip of tens of milliseconds. Clients are made here, in one thread, because making
        # them from one session is not thread-safe; using them is.
        jobs = _jobs(p, client, state.get("account", ""), module)
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {key: pool.submit(fn) for key, fn in jobs.items()}
            results = {key: f.result() for key, f in futures.items()}
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg="Could not read the stack's state")
    alarms = results.pop("alarms_by_prefix", {})
    alarms.update(results.pop("alarms", {}))
    if p["alarms"] or p["alarm_prefix"]:
        state["alarms"] = alarms
    state.update(results)
    module.exit_json(changed=False, state=state)


def _jobs(p: dict, client: Clients, account: str, module) -> dict:
    """state key -> a function reading it (clients bound now, in the calling thread)."""
    jobs: dict = {}
    if p["vpc_name"]:
        ec2 = client("ec2")
        jobs["network"] = lambda: read_network(ec2, p["vpc_name"], p["vpc_cidr"])
    if p["buckets"]:
        s3 = client("s3")
        jobs["buckets"] = lambda: {b: bucket(s3, b) for b in p["buckets"]}
    if p["secrets"]:
        sm = client("secretsmanager")
        jobs["secrets"] = lambda: {s: secret(sm, s) for s in p["secrets"]}
    if p["sns_topic"]:
        sns = client("sns")
        jobs["sns_topic"] = lambda: sns_topic(sns, p["sns_topic"])
    if p["alarms"] or p["alarm_prefix"] or p["dashboard"]:
        cw = client("cloudwatch")
        if p["alarms"]:
            jobs["alarms"] = lambda: metric_alarms(cw, p["alarms"])
        if p["alarm_prefix"]:
            jobs["alarms_by_prefix"] = lambda: alarms_by_prefix(cw, p["alarm_prefix"])
        if p["dashboard"]:
            jobs["dashboard"] = lambda: dashboard(cw, p["dashboard"])
    if p["distribution_comment"]:
        cf = client("cloudfront")
        jobs["distribution"] = lambda: distribution(cf, p["distribution_comment"])
    if p["budget"]:
        bud = client("budgets")
        jobs["budget"] = lambda: budget(bud, account, p["budget"])
    if p["repository"]:
        ecr = client("ecr")
        jobs["repository"] = lambda: repository(ecr, p["repository"])
    if p["roles"] or p["oidc_url"]:
        iam = client("iam")
        if p["roles"]:
            jobs["roles"] = lambda: {r: read_role(iam, r) for r in p["roles"]}
        if p["oidc_url"]:
            jobs["oidc_provider"] = lambda: read_oidc_provider(iam, p["oidc_url"])
    if p["family"]:
        ecs = client("ecs")
        jobs["task_definitions"] = lambda: task_definition_arns(ecs, p["family"])
    if any(p[k] for k in ("log_group", "cluster", "target_group", "load_balancer")):
        clients = [client(s) for s in ("ecs", "elbv2", "logs", "application-autoscaling")]
        jobs["ecs"] = lambda: ecs_state(module, *clients)
    return jobs


if __name__ == "__main__":
    main()
