#!/usr/bin/python
"""An ACM certificate requested with DNS validation through Route 53 (no module does that)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: acm_dns_certificate
short_description: Request an ACM certificate and validate it through a Route 53 hosted zone
description:
  - Finds an Amazon-issued certificate for I(domain_name) with exactly the same alternative
    names (ISSUED first, then PENDING_VALIDATION), requests one with DNS validation when none
    exists, writes the validation CNAME records into the public hosted zone I(hosted_zone)
    when they are missing or differ, and (with I(wait)) waits until ACM has issued it.
  - A second run with the same settings makes no write call. Supports check mode.
  - community.aws.acm_certificate can only import certificates; this module requests them.
  - I(state=absent) deletes the matching certificates (ACM refuses while a load balancer or a
    distribution still uses one; the message says which). The validation records are left in
    the zone, as ACM gives every certificate of the same name the same record, so they are
    re-used by the next request.
options:
  domain_name:
    description: Name the certificate is for (e.g. C(crayon.example.org)).
    type: str
    required: true
  alternative_names:
    description: Further names on the same certificate.
    type: list
    elements: str
    default: []
  hosted_zone:
    description:
      - Public Route 53 hosted zone (e.g. C(example.org)) that holds every name. Required when
        I(state=present).
    type: str
  tags:
    description: Tags set when the certificate is requested.
    type: dict
    default: {}
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the certificate is ISSUED (minutes on AWS after the records exist).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the validation records to appear and for the certificate.
    type: int
    default: 1800
  wait_delay:
    description: Seconds between two looks at the certificate's status.
    type: int
    default: 15
author: Crayon
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Certificate for the ALB, validated in example.org
  crayon.aws.acm_dns_certificate:
    domain_name: crayon.example.org
    hosted_zone: example.org
    region: eu-west-1
  register: cert

- name: The same name for CloudFront (certificates for CloudFront live in us-east-1)
  crayon.aws.acm_dns_certificate:
    domain_name: crayon.example.org
    hosted_zone: example.org
    region: us-east-1
"""

RETURN = r"""
certificate_arn:
  description: ARN of the certificate (empty when absent, or when check mode would request one).
  returned: always
  type: str
status:
  description: ACM status, e.g. ISSUED or PENDING_VALIDATION (empty when there is none).
  returned: always
  type: str
validation_records:
  description: The CNAME records ACM checks, as written into the hosted zone.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Record name (with the trailing dot)., type: str}
    type: {description: Always CNAME., type: str}
    value: {description: Record value., type: str}
"""

from typing import Any  # noqa: E402

from ansible_collections.crayon.aws.plugins.module_utils.common import (  # noqa: E402
    AWS_ERRORS,
    AnsibleAWSModule,
    wait_for,
)

LIVE = ["ISSUED", "PENDING_VALIDATION"]
DEAD = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}


def _names(domain: str, alternatives: list[str]) -> list[str]:
    return sorted({domain.lower().rstrip("."), *(a.lower().rstrip(".") for a in alternatives)})


def _find(acm: Any, domain: str, names: list[str]) -> list[dict[str, Any]]:
    """Amazon-issued certificates for exactly these names, ISSUED ones first."""
    found: list[dict[str, Any]] = []
    pages = acm.get_paginator("list_certificates").paginate(CertificateStatuses=LIVE)
    for page in pages:
        for summary in page.get("CertificateSummaryList", []):
            if summary.get("DomainName", "").lower() != domain:
                continue
            cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            sans = _names(cert["DomainName"], cert.get("SubjectAlternativeNames") or [])
            if cert.get("Type") == "AMAZON_ISSUED" and sans == names and cert["Status"] in LIVE:
                found.append(cert)
    return sorted(found, key=lambda c: (LIVE.index(c["Status"]), c["CertificateArn"]))


def _records(cert: dict[str, Any]) -> list[dict[str, str]] | None:
    """The validation records, or None while ACM has not published all of them yet."""
    out: dict[str, dict[str, str]] = {}
    for option in cert.get("DomainValidationOptions") or []:
        rr = option.get("ResourceRecord")
        if not rr:
            return None
        out[rr["Name"].lower()] = {"name": rr["Name"], "type": rr["Type"], "value": rr["Value"]}
    return [out[k] for k in sorted(out)] or None


def _zone_id(module: AnsibleAWSModule, r53: Any, zone: str) -> str:
    wanted = zone.lower().rstrip(".") + "."
    page = r53.list_hosted_zones_by_name(DNSName=wanted)
    for z in page.get("HostedZones", []):
        if z["Name"].lower() == wanted and not z.get("Config", {}).get("PrivateZone"):
            return str(z["Id"]).rsplit("/", 1)[-1]
    module.fail_json(
        msg=(
            f"No public Route 53 hosted zone named {zone} in this account: ACM's DNS validation "
            "needs one. Create the zone (and delegate the domain to it), or give a certificate "
            "ARN yourself instead of a hosted zone."
        )
    )
    raise AssertionError  # unreachable: fail_json exits


def _missing_records(r53: Any, zone_id: str, records: list[dict[str, str]]) -> list[dict[str, str]]:
    missing = []
    for rec in records:
        have = r53.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=rec["name"], StartRecordType=rec["type"]
        ).get("ResourceRecordSets", [])
        same = [
            s
            for s in have
            if s["Name"].lower() == rec["name"].lower()
            and s["Type"] == rec["type"]
            and [v["Value"] for v in s.get("ResourceRecords", [])] == [rec["value"]]
        ]
        if not same:
            missing.append(rec)
    return missing


def _describe_until(
    module: AnsibleAWSModule, acm: Any, arn: str, done: Any, what: str
) -> dict[str, Any]:

    def settled(cert: dict[str, Any]) -> bool:
        if cert["Status"] in DEAD:
            module.fail_json(
                msg=(
                    f"ACM certificate {arn} for {cert['DomainName']} is {cert['Status']}: "
                    "delete it (state=absent) and run again; check that the hosted zone is the "
                    "one the domain is delegated to."
                ),
                certificate_arn=arn,
                status=cert["Status"],
            )
        return bool(done(cert))

    def timed_out(cert: dict[str, Any]) -> None:
        module.fail_json(
            msg=(
                f"ACM certificate {arn} is still {cert['Status']} after "
                f"{module.params['wait_timeout']} s, waiting for {what}. DNS validation "
                "needs the domain delegated to the hosted zone; run again to keep waiting."
            ),
            certificate_arn=arn,
            status=cert["Status"],
            validation_records=_records(cert) or [],
        )

    return wait_for(
        lambda: dict(acm.describe_certificate(CertificateArn=arn)["Certificate"]),
        settled,
        timeout=module.params["wait_timeout"],
        interval=module.params["wait_delay"],
        first_interval=1.0,
        timed_out=timed_out,
    )


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "domain_name": {"type": "str", "required": True},
            "alternative_names": {"type": "list", "elements": "str", "default": []},
            "hosted_zone": {"type": "str"},
            "tags": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 1800},
            "wait_delay": {"type": "int", "default": 15},
        },
        required_if=[("state", "present", ["hosted_zone"])],
        supports_check_mode=True,
    )
    p = module.params
    domain = p["domain_name"].lower().rstrip(".")
    names = _names(domain, p["alternative_names"])
    acm = module.client("acm")
    try:
        found = _find(acm, domain, names)
        if p["state"] == "absent":
            if found and not module.check_mode:
                for cert in found:
                    acm.delete_certificate(CertificateArn=cert["CertificateArn"])
            module.exit_json(
                changed=bool(found), certificate_arn="", status="", validation_records=[]
            )

        zone = p["hosted_zone"].lower().rstrip(".")
        outside = [n for n in names if n != zone and not n.endswith("." + zone)]
        if outside:
            module.fail_json(msg=f"{', '.join(outside)} not inside the hosted zone {zone}")
        r53 = module.client("route53")
        zone_id = _zone_id(module, r53, zone)
        changed = False
        if found:
            cert = found[0]
        elif module.check_mode:
            module.exit_json(changed=True, certificate_arn="", status="", validation_records=[])
        else:
            tags = [{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items())]
            arn = acm.request_certificate(
                DomainName=domain,
                ValidationMethod="DNS",
                **({"SubjectAlternativeNames": names} if len(names) > 1 else {}),
                **({"Tags": tags} if tags else {}),
            )["CertificateArn"]
            changed = True
            cert = {"CertificateArn": arn, "Status": "PENDING_VALIDATION"}
        arn = cert["CertificateArn"]
        if cert["Status"] == "ISSUED":
            records = _records(cert) or []
        else:
            # ACM publishes the validation records a few seconds after the request.
            cert = _describe_until(
                module, acm, arn, lambda c: _records(c) is not None, "its validation records"
            )
            records = _records(cert) or []
            missing = _missing_records(r53, zone_id, records)
            if missing and not module.check_mode:
                r53.change_resource_record_sets(
                    HostedZoneId=zone_id,
                    ChangeBatch={
                        "Comment": f"ACM DNS validation for {domain} (Crayon kit)",
                        "Changes": [
                            {
                                "Action": "UPSERT",
                                "ResourceRecordSet": {
                                    "Name": r["name"],
                                    "Type": r["type"],
                                    "TTL": 300,
                                    "ResourceRecords": [{"Value": r["value"]}],
                                },
                            }
                            for r in missing
                        ],
                    },
                )
            changed = changed or bool(missing)
            if p["wait"] and not module.check_mode:
                cert = _describe_until(
                    module, acm, arn, lambda c: c["Status"] == "ISSUED", "ACM to issue it"
                )
        module.exit_json(
            changed=changed,
            certificate_arn=arn,
            status=cert["Status"],
            validation_records=records,
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Could not manage the ACM certificate for {domain}")


if __name__ == "__main__":
    main()
