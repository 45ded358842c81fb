"""RDS (Query protocol): the action table server.py dispatches on. DB
instances backed by real PostgreSQL servers, snapshots (freeze copies),
copies, restores, parameter groups, logs, events, tags, quotas, read replicas
and RDS Proxy, one module per resource:

- rds_instances: DB instances, read replicas, restores from a snapshot
- rds_snapshots: DB snapshots and their copies
- rds_sharing: sharing snapshots with other accounts (restore attribute)
- rds_subnet_groups: DB subnet groups and VPC security groups per account
- rds_proxies: RDS Proxy and its targets
- rds_params: parameter groups and the parameter catalog
- rds_clusters: Aurora PostgreSQL clusters, restores of cluster snapshots
- rds_cluster_snapshots: cluster snapshots, copies (re-key only), attributes
- rds_cluster_params: cluster parameter groups
- rds_cluster_servers: the real servers of clusters (volume, writer, readers)
- rds_misc: log files, events, tags, account quotas
- rds_mysql: the MariaDB server behind an instance of engine mysql/mariadb
- rds_servers, rds_common: what they share (the real servers; helpers)
- rds_recovery: housekeeping and recovery after a restart

Records are plain dicts in the per-account store (persisted as JSON). Every
action validates synchronously and returns; the work and the modelled AWS
duration run in a background operation that moves the resource through its
states.
"""
from .rds_instances import (
    CreateDBInstance, CreateDBInstanceReadReplica, DeleteDBInstance, DescribeDBInstances, ModifyDBInstance,
    PromoteReadReplica, RebootDBInstance, RestoreDBInstanceFromDBSnapshot, StartDBInstance, StopDBInstance)
from .rds_misc import (
    AddTagsToResource, DescribeAccountAttributes, DescribeDBLogFiles, DescribeEvents, DownloadDBLogFilePortion,
    ListTagsForResource, RemoveTagsFromResource)
from .rds_params import (
    CreateDBParameterGroup, DescribeDBParameterGroups, DescribeDBParameters, ModifyDBParameterGroup)
from .rds_proxies import (
    CreateDBProxy, DeleteDBProxy, DeregisterDBProxyTargets, DescribeDBProxies, DescribeDBProxyTargetGroups,
    DescribeDBProxyTargets, RegisterDBProxyTargets)
from .rds_snapshots import (
    CopyDBSnapshot, CreateDBSnapshot, DeleteDBSnapshot, DescribeDBSnapshotAttributes, DescribeDBSnapshots,
    ModifyDBSnapshotAttribute)
from .rds_subnet_groups import CreateDBSubnetGroup, DeleteDBSubnetGroup, DescribeDBSubnetGroups
from .rds_clusters import (
    CreateDBCluster, DeleteDBCluster, DescribeDBClusters, FailoverDBCluster, ModifyDBCluster,
    RestoreDBClusterFromSnapshot, StartDBCluster, StopDBCluster)
from .rds_cluster_params import (
    CopyDBClusterParameterGroup, CreateDBClusterParameterGroup, DeleteDBClusterParameterGroup,
    DescribeDBClusterParameterGroups, DescribeDBClusterParameters, ModifyDBClusterParameterGroup,
    ResetDBClusterParameterGroup)
from .rds_cluster_snapshots import (
    CopyDBClusterSnapshot, CreateDBClusterSnapshot, DeleteDBClusterSnapshot, DescribeDBClusterSnapshotAttributes,
    DescribeDBClusterSnapshots, ModifyDBClusterSnapshotAttribute)

ACTIONS = {f.__name__: f for f in (
    CreateDBInstance, DescribeDBInstances, ModifyDBInstance, RebootDBInstance, StopDBInstance, StartDBInstance,
    DeleteDBInstance, CreateDBInstanceReadReplica, PromoteReadReplica, CreateDBSnapshot, DescribeDBSnapshots, CopyDBSnapshot,
    DeleteDBSnapshot, RestoreDBInstanceFromDBSnapshot, DescribeDBParameterGroups, DescribeDBParameters,
    CreateDBParameterGroup, ModifyDBParameterGroup, DescribeDBLogFiles, DownloadDBLogFilePortion, DescribeEvents,
    AddTagsToResource, ListTagsForResource, RemoveTagsFromResource, DescribeAccountAttributes, CreateDBProxy,
    DescribeDBProxies, DeleteDBProxy, RegisterDBProxyTargets, DeregisterDBProxyTargets, DescribeDBProxyTargets,
    DescribeDBProxyTargetGroups, CreateDBCluster, DescribeDBClusters, ModifyDBCluster, DeleteDBCluster, StopDBCluster,
    StartDBCluster, FailoverDBCluster, RestoreDBClusterFromSnapshot, CreateDBClusterParameterGroup,
    DescribeDBClusterParameterGroups, DescribeDBClusterParameters, ModifyDBClusterParameterGroup,
    ResetDBClusterParameterGroup, CreateDBClusterSnapshot, DescribeDBClusterSnapshots, CopyDBClusterSnapshot,
    DeleteDBClusterSnapshot, DescribeDBClusterSnapshotAttributes, ModifyDBClusterSnapshotAttribute,
    CopyDBClusterParameterGroup, DeleteDBClusterParameterGroup, DescribeDBSnapshotAttributes,
    ModifyDBSnapshotAttribute, CreateDBSubnetGroup, DescribeDBSubnetGroups, DeleteDBSubnetGroup)}
