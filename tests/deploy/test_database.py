"""aws_database against a real moto server: RDS PostgreSQL encrypted with the stack key,
daily backups with point-in-time recovery, multi-AZ, a read replica, a DB subnet group over
the private subnets, a security group reachable only from the backend's group on 5432, the
master password managed by RDS in Secrets Manager under the stack key, deletion protection,
the Service tag; a second run and check mode change nothing; a database without the
backend's security group stops with what to fix; destroy leaves a final snapshot."""

from __future__ import annotations

import re
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.moto_server import MotoServer
from tests.support.playbook import ROOT, run_playbook

pytestmark = pytest.mark.slow  # real ansible-playbook runs

PLAYBOOK = ROOT / "tests" / "deploy" / "playbooks" / "database.yml"
NAMES = {
    "instance": "shop-prod-db",
    "replica": "shop-prod-db-replica",
    "cluster": "",
    "subnet_group": "shop-prod-db",
    "security_group": "shop-prod-db",
}
TAGS = {"Project": "shop", "Environment": "prod", "ManagedBy": "ansible", "Service": "database"}


def client(env: dict[str, str], service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])


def network(env: dict[str, str]) -> dict[str, Any]:
    """What aws_network and aws_kms would hand the role: VPC, private subnets, backend SG, key."""
    ec2 = client(env, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    backend = ec2.create_security_group(GroupName="shop-prod-api", Description="api", VpcId=vpc)
    other = ec2.create_security_group(GroupName="shop-prod-web", Description="web", VpcId=vpc)
    key = client(env, "kms").create_key(Description="stack key")["KeyMetadata"]["Arn"]
    return {
        "aws_database_vpc_id": vpc,
        "aws_database_subnet_ids": subnets,
        "aws_database_backend_security_group_id": backend["GroupId"],
        "aws_database_kms_key_arn": key,
        "other_sg": other["GroupId"],
    }


def role_vars(net: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        **{k: v for k, v in net.items() if k.startswith("aws_database_")},
        "aws_database_names": NAMES,
        "aws_database_region": "us-east-1",
        "aws_database_backup_retention_days": 14,
        "aws_database_multi_az": True,
        "aws_database_read_replica": True,
        "aws_database_deletion_protection": True,
        "aws_database_tags": TAGS,
        # moto 5.2 leaves out gp3's StorageThroughput, which rds_instance reads for gp3
        # (KeyError): the emulated stack uses gp2; the default is gp3.
        "aws_database_storage_type": "gp2",
        **extra,
    }


@pytest.fixture(scope="module")
def stack(moto: MotoServer) -> dict[str, Any]:
    moto.reset()
    env = moto.env()
    net = network(env)
    first = run_playbook(PLAYBOOK, env, role_vars(net))
    assert first.returncode == 0, first.output[-6000:]
    assert first.changed > 0
    found = re.search(r"DATABASE_SECRET_ARN=(arn:aws:secretsmanager:\S+)", first.output)
    assert found, first.output[-3000:]
    return {"env": env, "net": net, "secret_arn": found.group(1)}


def _instance(env: dict[str, str], name: str) -> dict[str, Any]:
    return dict(
        client(env, "rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    )


def test_encrypted_with_the_stack_key(stack: dict[str, Any]) -> None:
    db = _instance(stack["env"], NAMES["instance"])
    assert db["Engine"] == "postgres"
    assert db["StorageEncrypted"] is True
    assert db["KmsKeyId"] == stack["net"]["aws_database_kms_key_arn"]
    assert db["PubliclyAccessible"] is False


def test_daily_backups_with_point_in_time_recovery(stack: dict[str, Any]) -> None:
    db = _instance(stack["env"], NAMES["instance"])
    assert db["BackupRetentionPeriod"] == 14
    assert db["PreferredBackupWindow"] == "03:00-04:00"
    assert "LatestRestorableTime" in db
    backups = client(stack["env"], "rds").describe_db_instance_automated_backups(
        DBInstanceIdentifier=NAMES["instance"]
    )["DBInstanceAutomatedBackups"]
    assert [b["Status"] for b in backups] == ["active"]


def test_multi_az_deletion_protection_and_tags(stack: dict[str, Any]) -> None:
    db = _instance(stack["env"], NAMES["instance"])
    assert db["MultiAZ"] is True
    assert db["DeletionProtection"] is True
    assert db["CopyTagsToSnapshot"] is True
    assert {t["Key"]: t["Value"] for t in db["TagList"]} == TAGS


def test_read_replica_of_the_instance(stack: dict[str, Any]) -> None:
    replica = _instance(stack["env"], NAMES["replica"])
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == NAMES["instance"]
    assert replica["KmsKeyId"] == stack["net"]["aws_database_kms_key_arn"]
    primary = _instance(stack["env"], NAMES["instance"])
    assert primary["ReadReplicaDBInstanceIdentifiers"] == [NAMES["replica"]]


def test_subnet_group_over_the_private_subnets(stack: dict[str, Any]) -> None:
    rds = client(stack["env"], "rds")
    (group,) = rds.describe_db_subnet_groups(DBSubnetGroupName=NAMES["subnet_group"])[
        "DBSubnetGroups"
    ]
    assert group["VpcId"] == stack["net"]["aws_database_vpc_id"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(
        stack["net"]["aws_database_subnet_ids"]
    )
    assert (
        _instance(stack["env"], NAMES["instance"])["DBSubnetGroup"]["DBSubnetGroupName"]
        == (NAMES["subnet_group"])
    )


def test_reachable_only_from_the_backend_security_group(stack: dict[str, Any]) -> None:
    db = _instance(stack["env"], NAMES["instance"])
    (attached,) = db["VpcSecurityGroups"]
    ec2 = client(stack["env"], "ec2")
    (sg,) = ec2.describe_security_groups(GroupIds=[attached["VpcSecurityGroupId"]])[
        "SecurityGroups"
    ]
    assert sg["GroupName"] == NAMES["security_group"]
    (rule,) = sg["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 5432, 5432)
    assert rule["IpRanges"] == [] and rule.get("Ipv6Ranges", []) == []
    sources = [p["GroupId"] for p in rule["UserIdGroupPairs"]]
    assert sources == [stack["net"]["aws_database_backend_security_group_id"]]
    assert stack["net"]["other_sg"] not in sources
    assert sg["IpPermissionsEgress"] == []


def test_master_password_is_managed_by_rds_under_the_stack_key(stack: dict[str, Any]) -> None:
    db = _instance(stack["env"], NAMES["instance"])
    secret = db["MasterUserSecret"]
    assert secret["SecretArn"] == stack["secret_arn"]
    assert secret["KmsKeyId"] == stack["net"]["aws_database_kms_key_arn"]
    sm = client(stack["env"], "secretsmanager")
    described = sm.describe_secret(SecretId=secret["SecretArn"])
    assert described["KmsKeyId"] == stack["net"]["aws_database_kms_key_arn"]
    assert described.get("OwningService") == "rds"


def test_second_run_and_check_mode_change_nothing(stack: dict[str, Any]) -> None:
    wanted = role_vars(stack["net"])
    again = run_playbook(PLAYBOOK, stack["env"], wanted)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, stack["env"], wanted, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()


def test_no_secret_value_in_the_output(stack: dict[str, Any]) -> None:
    sm = client(stack["env"], "secretsmanager")
    password = sm.get_secret_value(SecretId=stack["secret_arn"])["SecretString"]
    again = run_playbook(PLAYBOOK, stack["env"], role_vars(stack["net"]), verbosity=2)
    assert again.returncode == 0
    assert password not in again.output


def test_each_setting_changed_is_read_back(stack: dict[str, Any]) -> None:
    """The instance's settings AWS changes in place, changed in one re-run (each sets its own
    field), each read back on its own; then the declared settings again (the tests after this
    one expect them). tests/deploy/test_role_variables.py lists these variables as covered here."""
    env = stack["env"]
    changed = role_vars(
        stack["net"],
        aws_database_instance_class="db.t4g.small",
        aws_database_allocated_storage=30,
        aws_database_max_allocated_storage=200,
        aws_database_backup_retention_days=10,
        aws_database_backup_window="05:00-06:00",
        aws_database_maintenance_window="mon:06:30-mon:07:30",
        aws_database_multi_az=False,
        aws_database_deletion_protection=False,
        aws_database_read_replica=False,
        aws_database_tags={**TAGS, "CostCenter": "cc-2"},
    )
    try:
        _change_and_read_back(env, changed)
    finally:
        back = run_playbook(PLAYBOOK, env, role_vars(stack["net"]))
        assert back.returncode == 0, back.output[-5000:]
    assert _instance(env, NAMES["instance"])["DeletionProtection"] is True


def _change_and_read_back(env: dict[str, str], changed: dict[str, Any]) -> None:
    run = run_playbook(PLAYBOOK, env, changed)
    assert run.returncode == 0 and run.changed > 0, run.output[-5000:]
    db = _instance(env, NAMES["instance"])
    assert db["DBInstanceClass"] == "db.t4g.small", "aws_database_instance_class"
    assert db["AllocatedStorage"] == 30, "aws_database_allocated_storage"
    assert db["MaxAllocatedStorage"] == 200, "aws_database_max_allocated_storage"
    assert db["BackupRetentionPeriod"] == 10, "aws_database_backup_retention_days"
    assert db["PreferredBackupWindow"] == "05:00-06:00", "aws_database_backup_window"
    assert db["PreferredMaintenanceWindow"] == "mon:06:30-mon:07:30", (
        "aws_database_maintenance_window"
    )
    assert db["MultiAZ"] is False, "aws_database_multi_az"
    assert db["DeletionProtection"] is False, "aws_database_deletion_protection"
    assert {t["Key"]: t["Value"] for t in db["TagList"]} == {**TAGS, "CostCenter": "cc-2"}, (
        "aws_database_tags"
    )
    rds = client(env, "rds")
    left = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    assert NAMES["replica"] not in left, "aws_database_read_replica"


@pytest.mark.parametrize("backend", ["", "sg-0123456789abcdef0"])
def test_a_database_without_the_backend_security_group_stops(
    stack: dict[str, Any], backend: str
) -> None:
    name = {**NAMES, "instance": "shop-prod-db2", "subnet_group": "db2", "security_group": "db2"}
    bad = run_playbook(
        PLAYBOOK,
        stack["env"],
        role_vars(
            stack["net"], aws_database_backend_security_group_id=backend, aws_database_names=name
        ),
    )
    assert bad.returncode != 0
    assert "backend" in bad.output and "Nothing was created" in bad.output
    rds = client(stack["env"], "rds")
    ids = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    assert "shop-prod-db2" not in ids
    groups = client(stack["env"], "ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["db2"]}]
    )["SecurityGroups"]
    assert groups == []


def test_destroy_refuses_a_protected_database_then_keeps_a_final_snapshot(
    stack: dict[str, Any],
) -> None:
    env = stack["env"]
    destroy = role_vars(stack["net"], database_state="absent")
    refused = run_playbook(PLAYBOOK, env, destroy)
    assert refused.returncode != 0
    assert "aws_database_destroy_protected=true" in refused.output
    assert _instance(env, NAMES["instance"])["DeletionProtection"] is True

    gone = run_playbook(PLAYBOOK, env, {**destroy, "aws_database_destroy_protected": True})
    assert gone.returncode == 0, gone.output[-4000:]
    rds = client(env, "rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    snaps = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBInstanceIdentifier"] for s in snaps] == [NAMES["instance"]]
    (snap,) = snaps
    assert re.fullmatch(rf"{NAMES['instance']}-final-\d{{8}}-\d{{6}}", snap["DBSnapshotIdentifier"])
    assert snap["Encrypted"] is True
    assert snap["KmsKeyId"] == stack["net"]["aws_database_kms_key_arn"]
    assert snap["DBSnapshotIdentifier"] in gone.output

    again = run_playbook(PLAYBOOK, env, {**destroy, "aws_database_destroy_protected": True})
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()


AURORA = {
    "instance": "shop-dev-db-1",
    "replica": "shop-dev-db-2",
    "cluster": "shop-dev-db",
    "subnet_group": "shop-dev-db",
    "security_group": "shop-dev-db",
}


def test_aurora_serverless_v2_when_asked(moto: MotoServer) -> None:
    """Aurora Serverless v2: the same guarantees on a cluster with a writer and a reader."""
    moto.reset()
    env = moto.env()
    net = network(env)
    wanted = role_vars(
        net,
        aws_database_engine="aurora-postgresql",
        aws_database_engine_version="16.4",
        aws_database_names=AURORA,
        aws_database_multi_az=False,
        aws_database_read_replica=True,
        aws_database_deletion_protection=False,
        aws_database_serverless_max_acu=8,
    )
    first = run_playbook(PLAYBOOK, env, wanted)
    assert first.returncode == 0, first.output[-6000:]
    rds = client(env, "rds")
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier="shop-dev-db")["DBClusters"]
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == net["aws_database_kms_key_arn"]
    assert cluster["BackupRetentionPeriod"] == 14
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 8.0}
    assert cluster["MasterUserSecret"]["KmsKeyId"] == net["aws_database_kms_key_arn"]
    assert cluster["DeletionProtection"] is False
    members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}
    assert members == {"shop-dev-db-1": True, "shop-dev-db-2": False}
    for name in members:
        assert _instance(env, name)["DBInstanceClass"] == "db.serverless"
    (sg,) = cluster["VpcSecurityGroups"]
    (rule,) = client(env, "ec2").describe_security_groups(GroupIds=[sg["VpcSecurityGroupId"]])[
        "SecurityGroups"
    ][0]["IpPermissions"]
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [
        net["aws_database_backend_security_group_id"]
    ]

    again = run_playbook(PLAYBOOK, env, wanted)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()
    check = run_playbook(PLAYBOOK, env, wanted, check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed == 0, check.changed_tasks()

    gone = run_playbook(PLAYBOOK, env, {**wanted, "database_state": "absent"})
    assert gone.returncode == 0, gone.output[-4000:]
    assert rds.describe_db_clusters()["DBClusters"] == []
    snaps = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterIdentifier"] for s in snaps] == ["shop-dev-db"]


RESTORE = ROOT / "playbooks" / "restore-database.yml"


def _aws_inventory(tmp_path: Path) -> Path:
    """The kit's inventory shape: an `aws` group whose one host is the control machine."""
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  children:\n    aws:\n      hosts:\n        aws_api:\n"
        "          ansible_connection: local\n"
    )
    return path


def test_restore_to_a_point_in_time_as_a_new_instance(moto: MotoServer, tmp_path: Path) -> None:
    moto.reset()
    env = moto.env()
    net = network(env)
    built = run_playbook(PLAYBOOK, env, role_vars(net, aws_database_read_replica=False))
    assert built.returncode == 0, built.output[-4000:]
    rds = client(env, "rds")
    source = _instance(env, NAMES["instance"])
    when = source["LatestRestorableTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    inventory = _aws_inventory(tmp_path)
    asked = {
        "restore_database_names": NAMES,
        "restore_database_region": "us-east-1",
        "restore_database_time": when,
        "restore_database_target": "shop-prod-db-restored",
    }

    preview = run_playbook(RESTORE, env, asked, check=True, inventory=inventory)
    assert preview.returncode == 0, preview.output[-4000:]
    assert len(rds.describe_db_instances()["DBInstances"]) == 1

    started = time.monotonic()
    done = run_playbook(RESTORE, env, asked, inventory=inventory)
    assert done.returncode == 0, done.output[-4000:]
    print(f"restore-database.yml against moto: {time.monotonic() - started:.1f} s")
    new = _instance(env, "shop-prod-db-restored")
    assert new["KmsKeyId"] == net["aws_database_kms_key_arn"] and new["StorageEncrypted"]
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == NAMES["subnet_group"]
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == [
        g["VpcSecurityGroupId"] for g in source["VpcSecurityGroups"]
    ]
    assert new["DeletionProtection"] is True and new["MultiAZ"] is True
    tags = {t["Key"]: t["Value"] for t in new["TagList"]}
    assert tags["RestoredFrom"] == NAMES["instance"] and tags["RestoredTo"] == when
    assert tags["Service"] == "database"
    secret = new["MasterUserSecret"]
    assert secret["KmsKeyId"] == net["aws_database_kms_key_arn"]
    assert secret["SecretArn"] != source["MasterUserSecret"]["SecretArn"]
    # The old one keeps running, and the output says how to switch.
    assert _instance(env, NAMES["instance"])["DBInstanceStatus"] == "available"
    assert new["Endpoint"]["Address"] in done.output
    assert "playbooks/deploy.yml" in done.output and secret["SecretArn"] in done.output

    again = run_playbook(RESTORE, env, asked, inventory=inventory)
    assert again.returncode == 0, again.output[-4000:]
    assert again.changed == 0, again.changed_tasks()


@pytest.mark.parametrize(
    ("asked", "said"),
    [
        ({"restore_database_time": "yesterday"}, "UTC time to the second"),
        ({"restore_database_time": "2001-01-01T00:00:00Z"}, "cannot be restored to"),
        ({"restore_database_names": {**NAMES, "instance": "nosuchdb"}}, "does not exist"),
    ],
)
def test_a_bad_restore_request_changes_nothing(
    moto: MotoServer, tmp_path: Path, asked: dict[str, Any], said: str
) -> None:
    env = moto.env()
    rds = client(env, "rds")
    before = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    bad = run_playbook(
        RESTORE,
        env,
        {"restore_database_names": NAMES, "restore_database_region": "us-east-1", **asked},
        inventory=_aws_inventory(tmp_path),
    )
    assert bad.returncode != 0
    assert "NOT RESTORED" in bad.output and said in bad.output
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == before


def test_check_mode_on_an_empty_account_says_what_it_would_build(moto: MotoServer) -> None:
    moto.reset()
    env = moto.env()
    net = network(env)
    check = run_playbook(PLAYBOOK, env, role_vars(net), check=True)
    assert check.returncode == 0, check.output[-4000:]
    assert check.changed_tasks() == [
        "aws_database : Database security group (the database port, from the backend's group only)",
        "aws_database : DB subnet group over the private subnets",
        "aws_database : Instance with its master password generated and kept by RDS in Secrets "
        "Manager",
    ]
    assert client(env, "rds").describe_db_instances()["DBInstances"] == []
    assert client(env, "rds").describe_db_subnet_groups()["DBSubnetGroups"] == []
