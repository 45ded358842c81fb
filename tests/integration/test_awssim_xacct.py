"""awssim across accounts: a second account with its own credentials, a role
in it the first account assumes (external id), snapshot sharing (restore
attribute), KMS key policies and grants across accounts, and the copy of a
shared snapshot in the target account with the target's key, restored there
with its rows. Every refusal as AWS refuses: not shared, aws/rds-encrypted,
a key policy without the target account, a missing external id, an untrusted
caller, names (subnet group, security group, parameter group) missing in the
target account. awscli (/usr/bin/aws) drives the main path."""
import json

import pytest

from fclib import wait_until
from fixtures_awssim import AwsCliError, psql

PW = "s3cret-Passw0rd"


def target_env(sim, creds):
    return sim.env(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def assume(sim, role_arn, external_id=None, env=None):
    args = ["sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "fleetcrypt"]
    if external_id:
        args += ["--external-id", external_id]
    return sim.cli(*args, env=env)["Credentials"]


def cli_error(sim, *args, env=None):
    with pytest.raises(AwsCliError) as e:
        sim.cli(*args, env=env)
    return e.value.stderr


def tclient(sim, service, creds):
    return sim.client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def source_with_rows(sim, ident, key_arn):
    """An instance encrypted with key_arn holding three rows; its manual snapshot `<ident>-snap`."""
    rds = sim.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword=PW, AllocatedStorage=20,
                           StorageEncrypted=True, KmsKeyId=key_arn)
    inst = sim.wait_instance(ident)
    port = inst["Endpoint"]["Port"]
    psql(port, "app", PW, "CREATE TABLE t (id int PRIMARY KEY, v text); "
                          "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    rds.create_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=f"{ident}-snap")
    return sim.wait_snapshot(f"{ident}-snap")


def test_cross_account_share_copy_restore(awssim):
    """CI: share -> assume role -> copy with the target's key -> restore -> the rows are there;
    refused: a snapshot not shared, one encrypted with aws/rds, a key policy without the target.
    awscli for the calls the target side makes (assume-role, shared listing, copy); botocore elsewhere."""
    sim = awssim
    info = sim.info
    src_acct, tgt_acct = info["account_id"], info["target_account_id"]
    role, ext = info["target_role_arn"], info["target_external_id"]
    assert role == f"arn:aws:iam::{tgt_acct}:role/fleetcrypt-target"

    kms = sim.client("kms")
    skey = kms.create_key(Description="source cmk")["KeyMetadata"]["Arn"]
    snap = source_with_rows(sim, "orders", skey)
    rds = sim.client("rds")
    rds.copy_db_snapshot(SourceDBSnapshotIdentifier="orders-snap", TargetDBSnapshotIdentifier="orders-awsrds",
                         KmsKeyId="alias/aws/rds")
    sim.wait_snapshot("orders-awsrds")

    # the role: no external id -> AccessDenied; with it, the session acts in the target account
    sts = sim.client("sts")
    with pytest.raises(sts.exceptions.ClientError) as e:
        sts.assume_role(RoleArn=role, RoleSessionName="fleetcrypt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    creds = assume(sim, role, ext)
    tenv = target_env(sim, creds)
    trds, tsts = tclient(sim, "rds", creds), tclient(sim, "sts", creds)
    assert tsts.get_caller_identity()["Arn"] == f"arn:aws:sts::{tgt_acct}:assumed-role/fleetcrypt-target/fleetcrypt"

    # sharing: aws/rds-encrypted refused; the CMK one shared with the target account
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-awsrds", AttributeName="restore",
                                         ValuesToAdd=[tgt_acct])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue" and "aws/rds" in str(e.value)
    src_arn = snap["DBSnapshotArn"]
    not_shared_arn = src_arn.replace(":snapshot:orders-snap", ":snapshot:orders-awsrds")
    out = rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-snap", AttributeName="restore",
                                           ValuesToAdd=[tgt_acct])
    assert out["DBSnapshotAttributesResult"]["DBSnapshotAttributes"] == [
        {"AttributeName": "restore", "AttributeValues": [tgt_acct]}]

    # the target account sees it by its ARN as shared, and has none of its own
    seen = sim.cli("rds", "describe-db-snapshots", "--snapshot-type", "shared", env=tenv)["DBSnapshots"]
    assert [(s["DBSnapshotIdentifier"], s["SnapshotType"]) for s in seen] == [(src_arn, "shared")]
    assert trds.describe_db_snapshots()["DBSnapshots"] == []

    tkey = tclient(sim, "kms", creds).create_key(Description="target cmk")["KeyMetadata"]["Arn"]
    assert tkey.split(":")[4] == tgt_acct
    # refused: not shared; KmsKeyId missing; the source key's policy does not name the target account
    with pytest.raises(trds.exceptions.DBSnapshotNotFoundFault):
        trds.copy_db_snapshot(SourceDBSnapshotIdentifier=not_shared_arn, TargetDBSnapshotIdentifier="x1",
                              KmsKeyId=tkey)
    with pytest.raises(trds.exceptions.ClientError) as e:
        trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="x2")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(trds.exceptions.KMSKeyNotAccessibleFault):
        trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="x3", KmsKeyId=tkey)

    # the source account lets the target account use its key (key policy)
    pol = json.loads(kms.get_key_policy(KeyId=skey, PolicyName="default")["Policy"])
    assert pol["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{src_acct}:root"
    pol["Statement"].append({"Sid": "target account", "Effect": "Allow",
                             "Principal": {"AWS": f"arn:aws:iam::{tgt_acct}:root"},
                             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"],
                             "Resource": "*"})
    kms.put_key_policy(KeyId=skey, PolicyName="default", Policy=json.dumps(pol))

    cp = sim.cli("rds", "copy-db-snapshot", "--source-db-snapshot-identifier", src_arn,
                 "--target-db-snapshot-identifier", "orders-copy", "--kms-key-id", tkey, env=tenv)["DBSnapshot"]
    assert cp["SourceDBSnapshotIdentifier"] == src_arn and cp["KmsKeyId"] == tkey
    cp = sim.wait_snapshot("orders-copy", rds=trds)
    assert cp["DBSnapshotArn"].split(":")[4] == tgt_acct and cp["Encrypted"] is True
    r = trds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="orders-enc", DBSnapshotIdentifier="orders-copy",
                                                  DBInstanceClass="db.t3.micro")
    assert r["DBInstance"]["KmsKeyId"] == tkey
    inst = sim.wait_instance("orders-enc", rds=trds)
    assert inst["DBInstanceArn"].split(":")[4] == tgt_acct
    assert psql(inst["Endpoint"]["Port"], "app", PW, "SELECT string_agg(v, ',' ORDER BY id) FROM t") == "a,b,c"
    # the first account has no such instance: stores are per account
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier="orders-enc")


@pytest.mark.slow
def test_roles_trust_and_admin(awssim):
    """Roles configured through the admin API: without external id, one that
    does not trust the source account, an unknown role in another account;
    the target account's own credentials."""
    sim = awssim
    info = sim.info
    tgt = info["target_account_id"]
    sim.admin("POST", "/roles", {"role_arn": f"arn:aws:iam::{tgt}:role/open", "trusted": [info["account_id"]]})
    sim.admin("POST", "/roles", {"role_arn": f"arn:aws:iam::{tgt}:role/closed", "trusted": ["111122223333"]})
    roles = {r["arn"]: r for r in sim.admin("GET", "/roles")["roles"]}
    assert roles[info["target_role_arn"]]["external_id"] == info["target_external_id"]
    creds = assume(sim, f"arn:aws:iam::{tgt}:role/open")
    assert sim.cli("sts", "get-caller-identity", env=target_env(sim, creds))["Account"] == tgt
    for arn in (f"arn:aws:iam::{tgt}:role/closed", f"arn:aws:iam::{tgt}:role/nobody"):
        assert "AccessDenied" in cli_error(sim, "sts", "assume-role", "--role-arn", arn,
                                           "--role-session-name", "s1")
    # a wrong external id is refused as a missing one
    assert "AccessDenied" in cli_error(sim, "sts", "assume-role", "--role-arn", info["target_role_arn"],
                                       "--role-session-name", "s1", "--external-id", "wrong-one")
    # the target account's own keys: same store as the role's sessions
    own = sim.env(info["target_access_key_id"], info["target_secret_access_key"])
    assert sim.cli("sts", "get-caller-identity", env=own)["Account"] == tgt
    key = sim.cli("kms", "create-key", env=own)["KeyMetadata"]["KeyId"]
    creds = assume(sim, info["target_role_arn"], info["target_external_id"])
    assert key in [k["KeyId"] for k in sim.cli("kms", "list-keys", env=target_env(sim, creds))["Keys"]]
    sim.admin("DELETE", f"/roles?arn=arn:aws:iam::{tgt}:role/open")
    assert "AccessDenied" in cli_error(sim, "sts", "assume-role", "--role-arn", f"arn:aws:iam::{tgt}:role/open",
                                       "--role-session-name", "s1")


@pytest.mark.slow
def test_kms_grants_and_policies_across_accounts(awssim):
    sim = awssim
    info = sim.info
    src, tgt = info["account_id"], info["target_account_id"]
    kms = sim.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    creds = assume(sim, info["target_role_arn"], info["target_external_id"])
    tkms = tclient(sim, "kms", creds)
    with pytest.raises(tkms.exceptions.ClientError) as e:
        tkms.describe_key(KeyId=key)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # aws/rds of the source is never usable from the target
    rds_key = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    with pytest.raises(tkms.exceptions.ClientError):
        tkms.describe_key(KeyId=rds_key)
    # a grant to the target's role
    role_arn = info["target_role_arn"]
    g = kms.create_grant(KeyId=key, GranteePrincipal=role_arn, Operations=["DescribeKey", "Decrypt", "CreateGrant"])
    assert tkms.describe_key(KeyId=key)["KeyMetadata"]["AWSAccountId"] == src
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert [x["GranteePrincipal"] for x in grants] == [role_arn]
    kms.revoke_grant(KeyId=key, GrantId=g["GrantId"])
    with pytest.raises(tkms.exceptions.ClientError):
        tkms.describe_key(KeyId=key)
    # a grant to the account, retired by the grantee
    g = kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{tgt}:root",
                         Operations=["DescribeKey", "RetireGrant"])
    tkms.describe_key(KeyId=key)
    tkms.retire_grant(KeyId=key, GrantId=g["GrantId"])
    assert kms.list_grants(KeyId=key)["Grants"] == []
    # policies: malformed refused; the target may not change the source's policy
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy="{not json")
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "kms:*", "Resource": "*"}]}))
    with pytest.raises(tkms.exceptions.ClientError):
        tkms.put_key_policy(KeyId=key, PolicyName="default", Policy=kms.get_key_policy(
            KeyId=key, PolicyName="default")["Policy"])
    with pytest.raises(kms.exceptions.ClientError):
        kms.put_key_policy(KeyId="alias/aws/rds", PolicyName="default", Policy="{}")


@pytest.mark.slow
def test_shared_snapshot_with_grant_names_and_unshare(awssim):
    """A grant (not the policy) lets the target copy; restore in the target
    account fails clearly on a subnet group, security group or parameter
    group that does not exist there, and works once they exist; unsharing
    hides the snapshot again; only manual snapshots are shared; a restore
    straight from the shared ARN works."""
    sim = awssim
    info = sim.info
    tgt = info["target_account_id"]
    kms = sim.client("kms")
    skey = kms.create_key()["KeyMetadata"]["Arn"]
    snap = source_with_rows(sim, "inv", skey)
    src_arn = snap["DBSnapshotArn"]
    rds = sim.client("rds")
    with pytest.raises(rds.exceptions.ClientError) as e:
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="inv-snap", AttributeName="restore",
                                         ValuesToAdd=["all"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="inv-snap", AttributeName="restore", ValuesToAdd=[tgt])
    kms.create_grant(KeyId=skey, GranteePrincipal=f"arn:aws:iam::{tgt}:root",
                     Operations=["Decrypt", "DescribeKey", "CreateGrant"])
    creds = assume(sim, info["target_role_arn"], info["target_external_id"])
    trds = tclient(sim, "rds", creds)
    tkey = tclient(sim, "kms", creds).create_key()["KeyMetadata"]["Arn"]
    trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="inv-copy", KmsKeyId=tkey)
    sim.wait_snapshot("inv-copy", rds=trds)
    assert [s["DBSnapshotIdentifier"] for s in trds.describe_db_snapshots(IncludeShared=True)["DBSnapshots"]] == \
        [src_arn, "inv-copy"]

    def restore(**kw):
        return trds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="inv-enc", DBSnapshotIdentifier="inv-copy",
                                                         DBInstanceClass="db.t3.micro", **kw)
    with pytest.raises(trds.exceptions.DBSubnetGroupNotFoundFault):
        restore(DBSubnetGroupName="app-subnets")
    with pytest.raises(trds.exceptions.DBParameterGroupNotFoundFault):
        restore(DBParameterGroupName="app-params")
    with pytest.raises(trds.exceptions.ClientError) as e:
        restore(VpcSecurityGroupIds=["sg-0app"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    trds.create_db_subnet_group(DBSubnetGroupName="app-subnets", DBSubnetGroupDescription="app",
                                SubnetIds=["subnet-1", "subnet-2"])
    assert [g["DBSubnetGroupName"] for g in trds.describe_db_subnet_groups()["DBSubnetGroups"]] == \
        ["app-subnets", "default"]
    # security groups by name (EC2): the source's group "app" has another id in the target account
    sec2 = sim.client("ec2")
    src_sg = sec2.create_security_group(GroupName="app", Description="app")["GroupId"]
    tec2 = tclient(sim, "ec2", creds)
    assert tec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["app"]}])["SecurityGroups"] == []
    tsg = tec2.create_security_group(GroupName="app", Description="app")["GroupId"]
    assert tsg != src_sg
    with pytest.raises(trds.exceptions.ClientError) as e:
        restore(VpcSecurityGroupIds=[src_sg])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    found = sim.cli("ec2", "describe-security-groups", "--filters", "Name=group-name,Values=app",
                    env=target_env(sim, creds))["SecurityGroups"]
    assert [(g["GroupId"], g["OwnerId"]) for g in found] == [(tsg, tgt)]
    sim.admin("POST", f"/accounts/{tgt}/security-groups", {"ids": ["sg-0app"]})
    trds.create_db_parameter_group(DBParameterGroupName="app-params", DBParameterGroupFamily="postgres15",
                                   Description="app")
    restore(DBSubnetGroupName="app-subnets", DBParameterGroupName="app-params", VpcSecurityGroupIds=[tsg, "sg-0app"])
    inst = sim.wait_instance("inv-enc", rds=trds)
    assert inst["DBSubnetGroup"]["DBSubnetGroupName"] == "app-subnets"
    assert [g["VpcSecurityGroupId"] for g in inst["VpcSecurityGroups"]] == [tsg, "sg-0app"]
    assert psql(inst["Endpoint"]["Port"], "app", PW, "SELECT count(*) FROM t") == "3"
    # unshare: gone from the target's view, copy refused
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="inv-snap", AttributeName="restore", ValuesToRemove=[tgt])
    assert trds.describe_db_snapshots(SnapshotType="shared")["DBSnapshots"] == []
    with pytest.raises(trds.exceptions.DBSnapshotNotFoundFault):
        trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="inv-copy2",
                              KmsKeyId=tkey)
    assert rds.describe_db_snapshot_attributes(DBSnapshotIdentifier="inv-snap")[
        "DBSnapshotAttributesResult"]["DBSnapshotAttributes"] == [{"AttributeName": "restore", "AttributeValues": []}]


@pytest.mark.slow
def test_cluster_snapshot_shared_across_accounts(awssim):
    """ModifyDBClusterSnapshotAttribute as its instance twin; the target sees
    and copies the shared cluster snapshot with its own key, and restores it."""
    sim = awssim
    info = sim.info
    tgt = info["target_account_id"]
    kms = sim.client("kms")
    skey = kms.create_key()["KeyMetadata"]["Arn"]
    rds = sim.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="aur", Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword=PW, StorageEncrypted=True, KmsKeyId=skey)
    wait_until(lambda: rds.describe_db_clusters(DBClusterIdentifier="aur")["DBClusters"][0]["Status"] == "available",
               180, 0.1, "cluster aur")
    rds.create_db_instance(DBInstanceIdentifier="aur-1", DBClusterIdentifier="aur", Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large")
    sim.wait_instance("aur-1", timeout=180)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="aur", DBClusterSnapshotIdentifier="aur-snap")

    def csnap(client, ident):
        return client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)["DBClusterSnapshots"][0]
    s = wait_until(lambda: (lambda x: x if x["Status"] == "available" else None)(csnap(rds, "aur-snap")), 120, 0.2,
                   "cluster snapshot")
    src_arn = s["DBClusterSnapshotArn"]
    sim.cli("rds", "modify-db-cluster-snapshot-attribute", "--db-cluster-snapshot-identifier", "aur-snap",
            "--attribute-name", "restore", "--values-to-add", tgt)
    creds = assume(sim, info["target_role_arn"], info["target_external_id"])
    trds = tclient(sim, "rds", creds)
    seen = trds.describe_db_cluster_snapshots(SnapshotType="shared")["DBClusterSnapshots"]
    assert [x["DBClusterSnapshotIdentifier"] for x in seen] == [src_arn]
    tkey = tclient(sim, "kms", creds).create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(trds.exceptions.ClientError) as e:
        trds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=src_arn,
                                      TargetDBClusterSnapshotIdentifier="aur-copy", KmsKeyId=tkey)
    assert e.value.response["Error"]["Code"] == "KMSKeyNotAccessibleFault"
    kms.create_grant(KeyId=skey, GranteePrincipal=info["target_role_arn"],
                     Operations=["Decrypt", "DescribeKey", "CreateGrant"])
    trds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=src_arn,
                                  TargetDBClusterSnapshotIdentifier="aur-copy", KmsKeyId=tkey)
    c = wait_until(lambda: (lambda x: x if x["Status"] == "available" else None)(csnap(trds, "aur-copy")), 120, 0.2,
                   "cluster copy")
    assert c["KmsKeyId"] == tkey and c["SourceDBClusterSnapshotArn"] == src_arn
    trds.restore_db_cluster_from_snapshot(DBClusterIdentifier="aur-t", SnapshotIdentifier="aur-copy",
                                          Engine="aurora-postgresql")
    cl = trds.describe_db_clusters(DBClusterIdentifier="aur-t")["DBClusters"][0]
    assert cl["KmsKeyId"] == tkey and cl["DBClusterArn"].split(":")[4] == tgt


@pytest.mark.slow
def test_unencrypted_and_public_shares(awssim):
    """An unencrypted shared snapshot: copied with KmsKeyId it is encrypted
    with the target's key, without it stays unencrypted; restored straight
    from the shared ARN; `all` makes it public (listed as such); another
    account's ARN never reaches the caller's own snapshot of that name."""
    sim = awssim
    info = sim.info
    tgt = info["target_account_id"]
    rds = sim.client("rds")
    meta = [{"Key": "fleetcrypt-sim:metadata-only", "Value": "true"}]
    rds.create_db_instance(DBInstanceIdentifier="plain", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword=PW, AllocatedStorage=20, Tags=meta)
    sim.wait_instance("plain")
    rds.create_db_snapshot(DBInstanceIdentifier="plain", DBSnapshotIdentifier="plain-snap")
    src_arn = sim.wait_snapshot("plain-snap")["DBSnapshotArn"]
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="plain-snap", AttributeName="restore", ValuesToAdd=["all"])
    creds = assume(sim, info["target_role_arn"], info["target_external_id"])
    trds = tclient(sim, "rds", creds)
    assert [s["SnapshotType"] for s in trds.describe_db_snapshots(SnapshotType="public")["DBSnapshots"]] == ["public"]
    assert trds.describe_db_snapshots(SnapshotType="shared")["DBSnapshots"] == []
    tkey = tclient(sim, "kms", creds).create_key()["KeyMetadata"]["Arn"]
    trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="plain-enc", KmsKeyId=tkey)
    trds.copy_db_snapshot(SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier="plain-copy")
    enc = sim.wait_snapshot("plain-enc", rds=trds)
    assert enc["Encrypted"] is True and enc["KmsKeyId"] == tkey
    assert sim.wait_snapshot("plain-copy", rds=trds)["Encrypted"] is False
    trds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="plain-t", DBSnapshotIdentifier=src_arn,
                                              DBInstanceClass="db.t3.micro")
    assert sim.wait_instance("plain-t", rds=trds)["DBInstanceArn"].split(":")[4] == tgt
    # the target's own snapshot named plain-snap is not the source's, and the source's ARN is not deletable there
    trds.create_db_snapshot(DBInstanceIdentifier="plain-t", DBSnapshotIdentifier="plain-snap")
    sim.wait_snapshot("plain-snap", rds=trds)
    with pytest.raises(trds.exceptions.DBSnapshotNotFoundFault):
        trds.delete_db_snapshot(DBSnapshotIdentifier=src_arn)
    with pytest.raises(trds.exceptions.DBSnapshotNotFoundFault):
        trds.describe_db_snapshot_attributes(DBSnapshotIdentifier=src_arn)
    assert rds.describe_db_snapshots(DBSnapshotIdentifier="plain-snap")["DBSnapshots"][0]["DBSnapshotArn"] == src_arn
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="plain-snap", AttributeName="restore", ValuesToRemove=["all"])
    with pytest.raises(trds.exceptions.DBSnapshotNotFoundFault):
        trds.describe_db_snapshots(DBSnapshotIdentifier=src_arn)
