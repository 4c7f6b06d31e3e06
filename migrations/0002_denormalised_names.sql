-- Upgrades the ERP's original dashboard tables (migration 2025_11_production_dashboard), which
-- lack the denormalised name columns. `flowtally migrate` adds each column only when missing
-- (MariaDB's IF NOT EXISTS; on MySQL flowtally checks information_schema first), rows untouched.
ALTER TABLE mv_node_bottlenecks ADD COLUMN IF NOT EXISTS node_code VARCHAR(50) NULL AFTER node_id;
ALTER TABLE mv_node_bottlenecks ADD COLUMN IF NOT EXISTS node_name VARCHAR(200) NULL AFTER node_code;
ALTER TABLE mv_team_workload ADD COLUMN IF NOT EXISTS team_name VARCHAR(100) NULL AFTER team_id;
ALTER TABLE mv_team_workload ADD COLUMN IF NOT EXISTS team_category VARCHAR(32) NULL AFTER team_name;
