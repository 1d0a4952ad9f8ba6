"""Filter `crayon_cost_estimate`: the monthly cost of a stack, item by item, and alternatives.

Pure arithmetic on two mappings: the dated price table (cost/prices.yml) and the inputs
playbooks/cost.yml builds from the inventory plus usage assumptions. No AWS call is made.
Every figure is rounded only when printed; totals are the exact sum of the items.
"""

from __future__ import annotations

import math
import re
from typing import Any

SECONDS_PER_MONTH = 730 * 3600  # AWS's 730-hour month


def parse_interval(value: Any) -> float:
    """Seconds in a Litestream-style duration: 1s, 500ms, 5m, 1h, or a bare number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*", str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (write 1s, 500ms, 5m or 1h)")
    number, unit = float(m.group(1)), m.group(2) or "s"
    seconds = number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


def litestream_puts(
    sync_interval_s: float,
    writes_active_fraction: float,
    compaction_intervals_s: list[float],
    snapshot_interval_s: float,
) -> dict[str, float]:
    """S3 PUTs a month made by Litestream.

    - Level-0 uploads: one PUT per sync interval in which the database changed:
      S / i * f, where S = seconds in a month, i = sync interval, f = fraction of sync
      intervals that saw at least one write (the writes-active fraction, an assumption).
    - Compaction: each level of interval I uploads once per window that saw a write. With
      writes spread independently over intervals, a window holds a write with probability
      1 - (1 - f)^(I / i), so PUTs = S / I * (1 - (1 - f)^(I / i)).
    - Snapshots: S / snapshot interval (one PUT each; large ones are multipart, ignored here).
    """
    f = min(max(writes_active_fraction, 0.0), 1.0)
    level0 = SECONDS_PER_MONTH / sync_interval_s * f
    compaction = 0.0
    for interval in compaction_intervals_s:
        p_window = 1.0 - (1.0 - f) ** (interval / sync_interval_s)
        compaction += SECONDS_PER_MONTH / interval * p_window
    snapshots = SECONDS_PER_MONTH / snapshot_interval_s
    return {
        "level0": level0,
        "compaction": compaction,
        "snapshots": snapshots,
        "total": level0 + compaction + snapshots,
    }


class _Ledger:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, usd: float, detail: str, service: str = "shared") -> None:
        # service: the Service tag the item's resources carry (cost by service).
        self.items.append(
            {"name": name, "usd": round(usd, 6), "detail": detail, "service": service}
        )

    @property
    def total(self) -> float:
        return round(sum(i["usd"] for i in self.items), 6)


def _shared(
    led: _Ledger,
    p: dict[str, Any],
    u: dict[str, Any],
    alarm_metrics: int,
    custom_metrics: int,
    free: bool,
) -> None:
    """Items every deployment target pays: CDN, storage, replication, secrets, monitoring."""
    cf = p["cloudfront"]
    gb = float(u["gb_out_month"])
    req = float(u["requests_month"])
    bill_gb = max(0.0, gb - cf["free_gb_out"]) if free else gb
    bill_req = max(0.0, req - cf["free_requests"]) if free else req
    led.add(
        "CloudFront data out",
        bill_gb * cf["gb_out"],
        f"{gb:g} GB x ${cf['gb_out']}/GB" + (f" ({cf['free_gb_out']} GB free)" if free else ""),
    )
    led.add(
        "CloudFront HTTPS requests",
        bill_req / 10000 * cf["https_requests_per_10k"],
        f"{req:,.0f} requests x ${cf['https_requests_per_10k']}/10k"
        + (f" ({cf['free_requests']:,} free)" if free else ""),
    )

    s3 = p["s3"]
    storage = (
        float(u["s3_standard_gb"]) * s3["standard_gb_month"]
        + float(u["s3_ia_gb"]) * s3["standard_ia_gb_month"]
        + float(u["s3_glacier_gb"]) * s3["glacier_flexible_gb_month"]
    )
    led.add(
        "S3 storage",
        storage,
        f"{u['s3_standard_gb']:g} GB Standard, {u['s3_ia_gb']:g} GB Standard-IA, "
        f"{u['s3_glacier_gb']:g} GB Glacier Flexible Retrieval",
    )
    led.add(
        "S3 requests (app)",
        float(u["app_puts_month"]) / 1000 * s3["put_per_1k"]
        + float(u["app_gets_month"]) / 1000 * s3["get_per_1k"],
        f"{u['app_puts_month']:,} PUT x ${s3['put_per_1k']}/1k + "
        f"{u['app_gets_month']:,} GET x ${s3['get_per_1k']}/1k",
    )

    ls = u["litestream"]
    interval = parse_interval(ls["sync_interval"])
    puts = litestream_puts(
        interval,
        float(ls["writes_active_fraction"]),
        [parse_interval(x) for x in ls["compaction_intervals"]],
        parse_interval(ls["snapshot_interval"]),
    )
    led.add(
        "Litestream S3 PUTs",
        puts["total"] / 1000 * s3["put_per_1k"],
        f"{puts['total']:,.0f} PUT = {SECONDS_PER_MONTH:,} s / {interval:g} s x "
        f"{float(ls['writes_active_fraction']):g} active ({puts['level0']:,.0f}) + compaction "
        f"({puts['compaction']:,.0f}) + snapshots ({puts['snapshots']:,.0f})",
    )

    sm = p["secrets_manager"]
    led.add(
        "Secrets Manager",
        int(u["secrets"]) * sm["secret_month"]
        + float(u["secret_api_calls_month"]) / 10000 * sm["api_calls_per_10k"],
        f"{u['secrets']} secrets x ${sm['secret_month']} + "
        f"{u['secret_api_calls_month']:,} API calls",
    )

    cw = p["cloudwatch"]
    ingest = float(u["logs_gb_month"])
    stored = (
        ingest * min(float(u["log_retention_days"]), 365.0) / 30.0 * float(u["log_compression"])
    )
    bill_ingest = max(0.0, ingest - cw["free_logs_gb"]) if free else ingest
    bill_stored = max(0.0, stored - cw["free_logs_gb"]) if free else stored
    led.add(
        "CloudWatch Logs",
        bill_ingest * cw["logs_ingest_gb"] + bill_stored * cw["logs_storage_gb_month"],
        f"{ingest:.2f} GB ingested, {stored:.2f} GB stored ({u['log_retention_days']} days)"
        + (f" ({cw['free_logs_gb']} GB free each)" if free else ""),
    )
    bill_alarms = max(0, alarm_metrics - cw["free_alarm_metrics"]) if free else alarm_metrics
    led.add(
        "CloudWatch alarms",
        bill_alarms * cw["alarm_metric_month"],
        f"{alarm_metrics} alarm metrics x ${cw['alarm_metric_month']}"
        + (f" ({cw['free_alarm_metrics']} free)" if free else ""),
    )
    dashboards = int(u["dashboards"])
    bill_dash = max(0, dashboards - cw["free_dashboards"]) if free else dashboards
    led.add(
        "CloudWatch dashboards",
        bill_dash * cw["dashboard_month"],
        f"{dashboards} x ${cw['dashboard_month']}"
        + (f" ({cw['free_dashboards']} free)" if free else ""),
    )
    bill_metrics = max(0, custom_metrics - cw["free_custom_metrics"]) if free else custom_metrics
    led.add(
        "CloudWatch custom metrics",
        bill_metrics * cw["custom_metric_month"],
        f"{custom_metrics} metrics (app EMF + Container Insights) x ${cw['custom_metric_month']}"
        + (f" ({cw['free_custom_metrics']} free)" if free else ""),
    )

    if u["route53_zone"]:
        r53 = p["route53"]
        led.add(
            "Route 53 hosted zone",
            r53["hosted_zone_month"],
            "1 zone (alias queries to CloudFront are free)",
        )
    sns = p["sns"]
    emails = float(u["alert_emails_month"])
    bill_emails = max(0.0, emails - sns["free_emails"]) if free else emails
    led.add(
        "SNS e-mail alerts", bill_emails / 100000 * sns["email_per_100k"], f"{emails:g} e-mails"
    )
    b = p["budgets"]
    budgets = int(u["budgets"])
    led.add(
        "AWS Budgets",
        max(0, budgets - b["free_budgets"]) * b["budget_day"] * 30.4,
        f"{budgets} budget ({b['free_budgets']} free per account)",
    )


def _fargate_service(
    led: _Ledger,
    p: dict[str, Any],
    svc: dict[str, Any],
    spot_tasks: float,
    tasks: float,
    label: str,
) -> None:
    """One service's tasks: on-demand and Spot, tagged with its name."""
    hours = p["hours_per_month"]
    vcpu = int(svc["cpu"]) / 1024
    gb = int(svc["memory"]) / 1024
    arch = "arm64" if str(svc["arch"]).upper() == "ARM64" else "x86_64"
    od = p["fargate"][arch]
    sp = p["fargate"]["spot_x86_64"]
    on_demand = tasks - spot_tasks
    per_task_od = (vcpu * od["vcpu_hour"] + gb * od["gb_hour"]) * hours
    per_task_sp = (vcpu * sp["vcpu_hour"] + gb * sp["gb_hour"]) * hours
    service = str(svc.get("name") or "shared")
    if on_demand > 0:
        led.add(
            f"Fargate (on-demand){label}",
            on_demand * per_task_od,
            f"{on_demand:g} task x ({vcpu:g} vCPU x ${od['vcpu_hour']} + {gb:g} GB x "
            f"${od['gb_hour']}) x {hours} h ({arch})",
            service,
        )
    if spot_tasks > 0:
        led.add(
            f"Fargate Spot{label}",
            spot_tasks * per_task_sp,
            f"{spot_tasks:g} task x ({vcpu:g} vCPU x ${sp['vcpu_hour']} + {gb:g} GB x "
            f"${sp['gb_hour']}) x {hours} h (Spot price varies)",
            service,
        )


def _fargate(
    led: _Ledger, p: dict[str, Any], inp: dict[str, Any], spot_tasks: float, tasks: float
) -> None:
    hours = p["hours_per_month"]
    ecs = inp["ecs"]
    others = list(ecs.get("others") or [])
    # The first service is priced with the counts given (the alternatives change them); the
    # others (a stack of several services) with their own, in the same mode.
    label = f": {ecs['name']}" if others and ecs.get("name") else ""
    _fargate_service(led, p, ecs, spot_tasks, tasks, label)
    mode = inp.get("_mode", "as_configured")
    for svc in others:
        n = float(svc["tasks"])
        spot = (
            0.0 if mode == "fargate" else n if mode == "fargate_spot" else float(svc["spot_tasks"])
        )
        _fargate_service(led, p, svc, spot, n, f": {svc['name']}")
        tasks += n
    alb = p["alb"]
    led.add("Application Load Balancer", alb["hour"] * hours, f"{hours} h x ${alb['hour']}")
    led.add(
        "ALB capacity units (LCU)",
        float(inp["usage"]["alb_lcu_average"]) * alb["lcu_hour"] * hours,
        f"{inp['usage']['alb_lcu_average']:g} LCU average x ${alb['lcu_hour']} x {hours} h",
    )
    ips = 2 + (0 if inp["nat_gateway"] else math.ceil(tasks))
    ip = p["public_ipv4"]
    led.add(
        "Public IPv4 addresses",
        ips * ip["hour"] * hours,
        f"{ips} addresses (ALB in 2 AZs"
        + ("" if inp["nat_gateway"] else " + 1 per task")
        + f") x ${ip['hour']}/h",
    )
    if inp["nat_gateway"]:
        nat = p["nat_gateway"]
        gb_nat = float(inp["usage"]["nat_gb_month"])
        led.add(
            "NAT gateway",
            nat["hour"] * hours + gb_nat * nat["gb_processed"] + ip["hour"] * hours,
            f"{hours} h x ${nat['hour']} + {gb_nat:g} GB x ${nat['gb_processed']} + IPv4",
        )
    ecr = p["ecr"]
    led.add(
        "ECR image storage",
        float(inp["usage"]["ecr_gb"]) * ecr["gb_month"],
        f"{inp['usage']['ecr_gb']:g} GB (10 newest images, shared layers) x ${ecr['gb_month']}",
    )


def _ec2(led: _Ledger, p: dict[str, Any], inp: dict[str, Any]) -> None:
    hours = p["hours_per_month"]
    itype = inp["ec2"]["instance_type"]
    rate = p["ec2"][f"{itype}_hour"]
    led.add(f"EC2 {itype}", rate * hours, f"{hours} h x ${rate}")
    ebs = float(inp["ec2"]["ebs_gb"])
    led.add(
        "EBS gp3 volume",
        ebs * p["ec2"]["ebs_gp3_gb_month"],
        f"{ebs:g} GB x ${p['ec2']['ebs_gp3_gb_month']}",
    )
    ip = p["public_ipv4"]
    led.add("Public IPv4 address", ip["hour"] * hours, f"1 address x ${ip['hour']}/h")


def _lightsail(led: _Ledger, p: dict[str, Any], inp: dict[str, Any]) -> None:
    bundle = inp["lightsail"]["bundle"]
    led.add(
        f"Lightsail {bundle}",
        p["lightsail"]["bundles"][bundle],
        "bundle with IPv4, SSD and transfer",
    )


def _lambda(led: _Ledger, p: dict[str, Any], inp: dict[str, Any], free: bool) -> None:
    lam = p["lambda"]
    req = float(inp["usage"]["requests_month"]) * float(inp["usage"]["origin_request_fraction"])
    gbs = (
        req
        * float(inp["lambda"]["avg_duration_ms"])
        / 1000
        * int(inp["lambda"]["memory_mb"])
        / 1024
    )
    bill_gbs = max(0.0, gbs - lam["free_gb_seconds"]) if free else gbs
    bill_req = max(0.0, req - lam["free_requests"]) if free else req
    led.add(
        "Lambda compute",
        bill_gbs * lam["gb_second"],
        f"{gbs:,.0f} GB-s ({req:,.0f} origin requests x {inp['lambda']['avg_duration_ms']} ms x "
        f"{inp['lambda']['memory_mb']} MB)" + (" (400k GB-s free)" if free else ""),
    )
    led.add(
        "Lambda requests",
        bill_req / 1e6 * lam["requests_per_million"],
        f"{req:,.0f} requests (function URL, no API Gateway)" + (" (1 M free)" if free else ""),
    )


def _alarm_metrics(target: str) -> int:
    """Metrics read by the aws_monitoring alarms for a target (metric math counts each metric)."""
    app = 2  # Errors, ReplicationErrors
    if target in ("ecs", "fargate", "fargate_spot"):
        return (
            app + 2 + 1 + 1 + 2 + 1
        )  # CPU, memory, healthy hosts, response time, 5xx rate (2), ELB 5xx
    if target == "ec2":
        return app + 2  # CPU, status checks
    return app


def _audit(led: _Ledger, p: dict[str, Any], a: dict[str, Any], is_ecs: bool) -> None:
    """aws_audit: CloudTrail, VPC Flow Logs and the ALB's access logs, each when switched on.

    Audit objects are kept `retention_days` (0: forever, counted as a year): the stored volume
    is a month's logs times the months kept, compressed objects in S3 Standard.
    """
    au, s3 = p["audit"], p["s3"]
    months = (float(a["retention_days"]) or 365.0) / 30.0
    if a["cloudtrail"]:
        gb = float(a["trail_gb_month"]) * months
        led.add(
            "CloudTrail (trail + S3)",
            au["trail_first_copy_management"] + gb * s3["standard_gb_month"],
            f"first management-event copy free; {gb:.2f} GB of trail files kept in S3",
        )
    if a["flow_logs"]:
        gb = float(a["flow_logs_gb_month"])
        if a["flow_logs_destination"] == "s3":
            kept = gb * months
            usd = gb * au["flow_logs_s3_delivery_gb"] + kept * s3["standard_gb_month"]
            detail = f"{gb:g} GB/month x ${au['flow_logs_s3_delivery_gb']}/GB delivery to S3"
        else:
            kept = gb * min(float(a["flow_logs_retention_days"]), 365.0) / 30.0
            usd = (
                gb * au["flow_logs_cwl_ingest_gb"] + kept * p["cloudwatch"]["logs_storage_gb_month"]
            )
            detail = f"{gb:g} GB/month x ${au['flow_logs_cwl_ingest_gb']}/GB ingested"
        led.add("VPC Flow Logs", usd, f"{detail}, {kept:.2f} GB kept")
    if a["alb_logs"] and is_ecs:
        gb = float(a["alb_logs_gb_month"]) * months
        led.add(
            "ALB access logs (S3)",
            gb * s3["standard_gb_month"],
            f"delivery free; {gb:.2f} GB kept in S3",
        )


def _stack(
    target: str, p: dict[str, Any], inp: dict[str, Any], spot_tasks: float, tasks: float
) -> _Ledger:
    u = inp["usage"]
    free = bool(inp["apply_free_tier"])
    led = _Ledger()
    is_ecs = target in ("ecs", "fargate", "fargate_spot")
    if is_ecs:
        _fargate(led, p, inp, spot_tasks, tasks)
    elif target == "ec2":
        _ec2(led, p, inp)
    elif target == "lightsail":
        _lightsail(led, p, inp)
    elif target == "lambda":
        _lambda(led, p, inp, free)
    custom = int(u["app_custom_metrics"]) + (int(u["container_insights_metrics"]) if is_ecs else 0)
    usage = dict(u)
    if is_ecs:
        usage["logs_gb_month"] = float(u["logs_gb_month"]) + float(u["container_insights_logs_gb"])
    _shared(led, p, usage, _alarm_metrics(target), custom, free)
    if "audit" in inp:
        _audit(led, p, inp["audit"], is_ecs)
    if (inp.get("database") or {}).get("instance_class"):
        _database(led, p, inp["database"])
    if int((inp.get("kms") or {}).get("keys") or 0):
        _kms(led, p, inp["kms"], free)
    return led


def _database(led: _Ledger, p: dict[str, Any], db: dict[str, Any]) -> None:
    """The managed database (stack.database), its lines tagged with its backend service."""
    hours = p["hours_per_month"]
    service = str(db.get("service") or "shared")
    storage = float(db["storage_gb"])
    retention = int(db["backup_retention_days"])
    changed = float(db["changed_gb_day"])
    if db["engine"] == "aurora-postgresql":
        a = p["aurora"]
        acu = float(db["average_acu"])
        instances = 2 if db["multi_az"] or db["read_replica"] else 1
        led.add(
            "Aurora Serverless v2",
            instances * acu * a["acu_hour"] * hours,
            f"{instances} instance x {acu:g} ACU average x ${a['acu_hour']} x {hours} h",
            service,
        )
        led.add(
            "Aurora storage and I/O",
            storage * a["storage_gb_month"] + float(db["io_millions"]) * a["io_per_million"],
            f"{storage:g} GB x ${a['storage_gb_month']} + {db['io_millions']:g} M I/O",
            service,
        )
    else:
        r = p["rds"]
        cls = str(db["instance_class"])
        if cls not in r["instance_hour"]:
            raise ValueError(
                f"database instance class {cls!r} has no price in cost/prices.yml (rds."
                f"instance_hour); add it or use one of {', '.join(sorted(r['instance_hour']))}"
            )
        rate = r["instance_hour"][cls]
        copies = 2 if db["multi_az"] else 1
        led.add(
            f"RDS {cls}" + (" Multi-AZ" if copies == 2 else ""),
            copies * rate * hours,
            f"{copies} x ${rate}/h x {hours} h" + (" (primary + standby)" if copies == 2 else ""),
            service,
        )
        led.add(
            "RDS storage (gp3)",
            copies * storage * r["gp3_gb_month"],
            f"{storage:g} GB x ${r['gp3_gb_month']}" + (" x 2 (Multi-AZ)" if copies == 2 else ""),
            service,
        )
        if db["read_replica"]:
            led.add(
                f"RDS read replica {cls}",
                rate * hours + storage * r["gp3_gb_month"],
                f"${rate}/h x {hours} h + {storage:g} GB x ${r['gp3_gb_month']}",
                service,
            )
    billed = retention * changed
    led.add(
        "Database backups",
        billed * p["rds"]["backup_gb_month"],
        f"{retention} days x {changed:g} GB changed a day beyond the free "
        f"{storage:g} GB x ${p['rds']['backup_gb_month']}",
        service,
    )


def _kms(led: _Ledger, p: dict[str, Any], kms: dict[str, Any], free: bool) -> None:
    """The stack's customer-managed key (stack.kms), shared by every service."""
    k = p["kms"]
    keys = int(kms["keys"])
    led.add("KMS key", keys * k["key_month"], f"{keys} key x ${k['key_month']}/month")
    requests = float(kms["requests_month"])
    billed = max(0.0, requests - k["free_requests"]) if free else requests
    led.add(
        "KMS requests",
        billed / 10000 * k["requests_per_10k"],
        f"{requests:,.0f} requests x ${k['requests_per_10k']}/10k"
        + (f" ({k['free_requests']:,} free)" if free else ""),
    )


def crayon_cost_by_service(items: list[dict[str, Any]]) -> list[str]:
    """The estimate's items summed by their Service tag, one line each, largest first."""
    totals: dict[str, float] = {}
    for item in items:
        key = str(item.get("service") or "shared")
        totals[key] = totals.get(key, 0.0) + float(item["usd"])
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"Service={name:<20} {usd:>8.2f}" for name, usd in ranked]


def crayon_cost_estimate(inputs: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    """The inventory's stack item by item, its total, and the same workload on each alternative."""
    target = inputs["target"]
    if target not in ("ecs", "ec2", "lightsail"):
        raise ValueError(f"deploy_target must be ecs, ec2 or lightsail, not {target!r}")
    tasks = float(inputs["ecs"]["tasks"])
    spot = float(inputs["ecs"]["spot_tasks"])
    current = _stack(target, prices, inputs, spot, tasks)

    alternatives = []
    for name, key, spot_tasks, viable, note in (
        (
            "Fargate",
            "fargate",
            0.0,
            True,
            "ECS Fargate on-demand behind an ALB, same task size and count",
        ),
        (
            "Fargate Spot",
            "fargate_spot",
            tasks,
            True,
            "all tasks on Spot: can be stopped with 2 minutes' notice; a single stateful task "
            "means short outages then",
        ),
        (
            f"EC2 {inputs['ec2']['instance_type']}",
            "ec2",
            0.0,
            True,
            "one host, systemd + single-file build, CloudFront straight to the host (no ALB)",
        ),
        (
            f"Lightsail {inputs['lightsail']['bundle']}",
            "lightsail",
            0.0,
            True,
            "one host, fixed price; fewer AWS integrations (no CloudWatch host metrics)",
        ),
        (
            "Lambda",
            "lambda",
            0.0,
            False,
            "as is: SQLite has one writer and Litestream one replicator, Lambda runs "
            "many short-lived copies with no lasting disk; needs another database (e.g. DynamoDB)",
        ),
    ):
        led = _stack(key, prices, {**inputs, "_mode": key}, spot_tasks, tasks)
        alternatives.append({"name": name, "usd": led.total, "viable": viable, "note": note})
    cheapest = min((a for a in alternatives if a["viable"]), key=lambda a: a["usd"])
    lines = [f"{i['name']:<28} {i['usd']:>8.2f}  {i['detail']}" for i in current.items]
    lines.append(f"{'TOTAL a month (USD)':<28} {current.total:>8.2f}")
    by_service = crayon_cost_by_service(current.items)
    alt_lines = [
        f"{a['name']:<28} {a['usd']:>8.2f}  {'' if a['viable'] else '[not viable] '}{a['note']}"
        for a in alternatives
    ]
    return {
        "lines": lines,
        "alternative_lines": alt_lines,
        "service_lines": by_service,
        "as_of": prices["as_of"],
        "price_region": prices["region"],
        "target": target,
        "items": current.items,
        "total": current.total,
        "alternatives": alternatives,
        "cheapest_viable": cheapest["name"],
    }


def crayon_spot_tasks(strategy: list[dict[str, Any]], tasks: float) -> float:
    """Tasks ECS places on FARGATE_SPOT under a capacity provider strategy.

    ECS first places each provider's `base` tasks, then splits the rest by `weight`.
    """
    remaining = float(tasks)
    spot = 0.0
    for entry in strategy:
        base = min(float(entry.get("base", 0) or 0), remaining)
        remaining -= base
        if entry.get("capacity_provider") == "FARGATE_SPOT":
            spot += base
    weights = sum(float(e.get("weight", 0) or 0) for e in strategy)
    if remaining > 0 and weights > 0:
        spot_weight = sum(
            float(e.get("weight", 0) or 0)
            for e in strategy
            if e.get("capacity_provider") == "FARGATE_SPOT"
        )
        spot += remaining * spot_weight / weights
    return spot


# Months in one budget period (AWS Budgets' time units): the estimate is monthly.
_BUDGET_MONTHS = {"DAILY": 12 / 365, "MONTHLY": 1.0, "QUARTERLY": 3.0, "ANNUALLY": 12.0}


def crayon_budget_check(
    estimate_usd_month: float, limit_usd: float, time_unit: str = "MONTHLY"
) -> dict[str, Any]:
    """Compare a budget's limit with the stack's own monthly estimate, for one budget period.

    `below` is true when the limit is under the estimate scaled to the period (the budget
    alert would then fire in a normal period); `suggested` is the smallest limit in whole
    dollars (whole five dollars from $10 up) at or above that estimate.
    """
    unit = str(time_unit).upper()
    if unit not in _BUDGET_MONTHS:
        raise ValueError(f"budget time unit must be one of {sorted(_BUDGET_MONTHS)}, not {unit!r}")
    limit = float(limit_usd)
    if not limit > 0:
        raise ValueError(f"budget limit must be a positive amount of USD, not {limit_usd!r}")
    # Round the estimate to cents first so that float noise never reports a tie as "below".
    needed = round(float(estimate_usd_month) * _BUDGET_MONTHS[unit], 2)
    step = 5 if needed >= 10 else 1
    return {
        "below": limit < needed,
        "limit": limit,
        "estimate": needed,
        "time_unit": unit,
        "suggested": float(max(step, math.ceil(needed / step) * step)),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "crayon_cost_estimate": crayon_cost_estimate,
            "crayon_spot_tasks": crayon_spot_tasks,
            "crayon_cost_by_service": crayon_cost_by_service,
            "crayon_budget_check": crayon_budget_check,
        }
