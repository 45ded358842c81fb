-- publish_via_partition_root = false: changes are published per leaf partition;
-- the target is a restore of the source, so it has the very same leaves.
CREATE PUBLICATION %I FOR ALL TABLES WITH (publish_via_partition_root = false)
