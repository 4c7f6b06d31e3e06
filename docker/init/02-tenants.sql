-- The two demo tenant databases: for each, the ERP's source tables
-- (crates/testkit/sql/tenant_source.sql), the five mv_ tables (migrations/0001_mv_tables.sql;
-- `flowtally migrate` finds nothing to do) and the dimensions the simulator needs (routing graphs
-- and nodes, teams, team members): the rows `flowtally-sim --setup` seeds, for seeds 1 (DEFAULT)
-- and 2 (ACME). Tokens and assignments are left to the simulator service.
-- Run once by the mysql image when its data volume is first initialised. tests/it/docker_files.rs
-- checks that the DDL here matches the fixture and the migration statement for statement.

-- ---------------------------------------------------------------------------------------------
-- bgerp_t_default
-- ---------------------------------------------------------------------------------------------
CREATE DATABASE IF NOT EXISTS bgerp_t_default CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE bgerp_t_default;

CREATE TABLE routing_graph (
  id_graph        INT PRIMARY KEY AUTO_INCREMENT,
  code            VARCHAR(50) NOT NULL UNIQUE,
  name            VARCHAR(200) NOT NULL,
  graph_type      ENUM('sequential','parallel','assembly') NOT NULL DEFAULT 'sequential',
  production_type ENUM('hatthasilpa','classic','hybrid') NULL,
  created_at      DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE routing_node (
  id_node        INT PRIMARY KEY AUTO_INCREMENT,
  id_graph       INT NOT NULL,
  node_code      VARCHAR(50) NOT NULL,
  node_name      VARCHAR(200) NOT NULL,
  node_type      ENUM('start','operation','split','join','decision','end','qc','component','router') NOT NULL,
  team_category  ENUM('cutting','sewing','qc','finishing','general') NULL,
  wip_limit      INT NULL,
  node_config    JSON NULL,
  sequence_no    INT DEFAULT 0,
  UNIQUE KEY uniq_graph_node_code (id_graph, node_code),
  KEY idx_graph (id_graph)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE job_graph_instance (
  id_instance     INT PRIMARY KEY AUTO_INCREMENT,
  id_job_ticket   INT NOT NULL,
  id_graph        INT NOT NULL,
  status          ENUM('active','paused','completed','cancelled') NOT NULL DEFAULT 'active',
  production_type ENUM('hatthasilpa','classic','hybrid') NULL,
  started_at      DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at    DATETIME NULL,
  KEY idx_graph (id_graph)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team (
  id_team         INT PRIMARY KEY AUTO_INCREMENT,
  code            VARCHAR(50) NOT NULL,
  name            VARCHAR(100) NOT NULL,
  description     TEXT NULL,
  id_org          INT NOT NULL DEFAULT 1,
  team_category   ENUM('cutting','sewing','qc','finishing','general') DEFAULT 'general',
  production_mode ENUM('classic','hatthasilpa','hybrid') DEFAULT 'hybrid',
  active          TINYINT(1) DEFAULT 1,
  created_at      DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team_member (
  id_team          INT NOT NULL,
  id_member        INT NOT NULL,
  role             ENUM('lead','supervisor','qc','member','trainee') DEFAULT 'member',
  capacity_per_day INT DEFAULT 0,
  active           TINYINT(1) DEFAULT 1,
  joined_at        DATETIME NULL,
  PRIMARY KEY (id_team, id_member),
  KEY idx_member (id_member, active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE flow_token (
  id_token          INT PRIMARY KEY AUTO_INCREMENT,
  id_instance       INT NOT NULL,
  graph_version     VARCHAR(20) NULL,
  token_type        ENUM('batch','piece','component') NOT NULL DEFAULT 'piece',
  serial_number     VARCHAR(100) NULL,
  parent_token_id   INT NULL,
  current_node_id   INT NULL,
  status            ENUM('ready','active','waiting','paused','completed','scrapped') NOT NULL DEFAULT 'ready',
  qty               DECIMAL(10,2) DEFAULT 1.00,
  metadata          JSON NULL,
  spawned_at        DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at      DATETIME NULL,
  scrapped_at       DATETIME NULL,
  KEY idx_instance (id_instance),
  KEY idx_status (status),
  KEY idx_current_node (current_node_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE token_assignment (
  id_assignment       INT PRIMARY KEY AUTO_INCREMENT,
  id_token            INT NOT NULL,
  id_node             INT NOT NULL,
  assigned_to_user_id INT NOT NULL,
  assigned_by_user_id INT NOT NULL DEFAULT 0,
  status              ENUM('assigned','accepted','started','paused','completed','cancelled','rejected') NOT NULL DEFAULT 'assigned',
  pinned_by           INT NULL,
  assigned_at         DATETIME NULL,
  accepted_at         DATETIME NULL,
  started_at          DATETIME NULL,
  paused_at           DATETIME NULL,
  completed_at        DATETIME NULL,
  cancelled_at        DATETIME NULL,
  KEY idx_token (id_token),
  KEY idx_node_status (id_node, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mv_token_flow_summary (
  id              INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at     DATETIME NOT NULL COMMENT 'Snapshot timestamp',
  graph_id        INT NULL,
  node_id         INT NULL,
  team_id         INT NULL,
  wip_count       INT NOT NULL DEFAULT 0,
  completed_count INT NOT NULL DEFAULT 0,
  waiting_count   INT NOT NULL DEFAULT 0,
  KEY idx_snapshot (snapshot_at),
  KEY idx_graph_node (graph_id, node_id),
  KEY idx_team (team_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized WIP summary';

CREATE TABLE IF NOT EXISTS mv_node_bottlenecks (
  id               INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at      DATETIME NOT NULL,
  node_id          INT NOT NULL,
  node_code        VARCHAR(50) NULL,
  node_name        VARCHAR(200) NULL,
  queue_depth      INT NOT NULL DEFAULT 0,
  avg_wait_minutes DECIMAL(10,2) NULL,
  bottleneck_score DECIMAL(10,2) NULL COMMENT 'Calculated score (higher = more bottleneck)',
  KEY idx_snapshot (snapshot_at),
  KEY idx_node (node_id),
  KEY idx_score (bottleneck_score DESC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized bottleneck analysis';

CREATE TABLE IF NOT EXISTS mv_team_workload (
  id             INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at    DATETIME NOT NULL,
  team_id        INT NOT NULL,
  team_name      VARCHAR(100) NULL,
  team_category  VARCHAR(32) NULL,
  active_tokens  INT NOT NULL DEFAULT 0,
  waiting_tokens INT NOT NULL DEFAULT 0,
  avg_load       DECIMAL(5,2) NULL COMMENT 'Percentage load',
  KEY idx_snapshot (snapshot_at),
  KEY idx_team (team_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized team workload';

CREATE TABLE IF NOT EXISTS mv_cycle_time_analytics (
  id           INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at  DATETIME NOT NULL,
  node_id      INT NULL,
  team_id      INT NULL,
  period_start DATE NOT NULL,
  period_end   DATE NOT NULL,
  token_count  INT NOT NULL DEFAULT 0,
  p50_minutes  DECIMAL(10,2) NULL COMMENT 'Median cycle time',
  p95_minutes  DECIMAL(10,2) NULL COMMENT '95th percentile cycle time',
  avg_minutes  DECIMAL(10,2) NULL,
  KEY idx_snapshot (snapshot_at),
  KEY idx_node (node_id),
  KEY idx_team (team_id),
  KEY idx_period (period_start, period_end)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized cycle time analytics';

CREATE TABLE IF NOT EXISTS mv_dashboard_trends (
  id                  INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at         DATETIME NOT NULL COMMENT 'When this day was last recomputed',
  period_date         DATE NOT NULL,
  production_type     VARCHAR(32) NULL,
  graph_id            INT NULL,
  tokens_completed    INT NOT NULL DEFAULT 0,
  tokens_spawned      INT NOT NULL DEFAULT 0,
  avg_lead_time_hours DECIMAL(10,2) NULL,
  throughput_per_day  DECIMAL(10,2) NULL,
  KEY idx_snapshot (snapshot_at),
  KEY idx_period (period_date, production_type, graph_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized daily trends';

INSERT INTO routing_graph (id_graph, code, name, graph_type, production_type) VALUES
  (1, 'CLASSIC-TOTE', 'Classic tote bag', 'sequential', 'classic'),
  (2, 'SMALL-GOODS', 'Small leather goods', 'assembly', NULL);
INSERT INTO routing_node (id_node, id_graph, node_code, node_name, node_type, team_category, wip_limit, sequence_no) VALUES
  (1, 1, 'CUT', 'Leather cutting', 'start', 'cutting', 19, 1),
  (2, 1, 'SEW', 'Machine sewing', 'operation', 'sewing', 15, 2),
  (3, 1, 'EDGE', 'Edge painting', 'operation', 'finishing', 24, 3),
  (4, 1, 'QC1', 'Quality check', 'qc', 'qc', 39, 4),
  (5, 1, 'PACK', 'Packing', 'end', 'general', 39, 5),
  (6, 2, 'PREP', 'Material preparation', 'start', NULL, 39, 1),
  (7, 2, 'STITCH', 'Hand stitching', 'operation', 'sewing', NULL, 2),
  (8, 2, 'FINAL', 'Final inspection', 'end', 'qc', NULL, 3);
INSERT INTO team (id_team, code, name, team_category, production_mode, active) VALUES
  (1, 'CUT-A', 'Cutting Team A', 'cutting', 'classic', 1),
  (2, 'SEW-A', 'Sewing Team A', 'sewing', 'hybrid', 1),
  (3, 'QC', 'Quality Control', 'qc', 'hybrid', 1),
  (4, 'SUPPORT', 'Line Support', 'general', 'hybrid', 1),
  (5, 'SEW-N', 'Sewing Night Shift', 'sewing', 'hatthasilpa', 0);
INSERT INTO team_member (id_team, id_member, role, capacity_per_day, active) VALUES
  (1, 1005, 'lead', NULL, 1),
  (1, 1008, 'member', 0, 1),
  (1, 1010, 'trainee', 17, 0),
  (1, 1013, 'trainee', 6, 1),
  (2, 1001, 'lead', 22, 1),
  (2, 1003, 'member', NULL, 1),
  (2, 1006, 'member', 0, 1),
  (2, 1007, 'member', 6, NULL),
  (2, 1011, 'member', 6, 1),
  (2, 1012, 'member', 11, 1),
  (3, 1004, 'lead', NULL, 1),
  (3, 1012, 'member', 0, 0),
  (4, 1007, 'lead', 11, 1),
  (4, 1013, 'member', 6, 1),
  (5, 1002, 'lead', 17, 1),
  (5, 1008, 'member', NULL, 1),
  (5, 1009, 'member', 0, 1);

-- ---------------------------------------------------------------------------------------------
-- bgerp_t_acme
-- ---------------------------------------------------------------------------------------------
CREATE DATABASE IF NOT EXISTS bgerp_t_acme CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE bgerp_t_acme;

CREATE TABLE routing_graph (
  id_graph        INT PRIMARY KEY AUTO_INCREMENT,
  code            VARCHAR(50) NOT NULL UNIQUE,
  name            VARCHAR(200) NOT NULL,
  graph_type      ENUM('sequential','parallel','assembly') NOT NULL DEFAULT 'sequential',
  production_type ENUM('hatthasilpa','classic','hybrid') NULL,
  created_at      DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE routing_node (
  id_node        INT PRIMARY KEY AUTO_INCREMENT,
  id_graph       INT NOT NULL,
  node_code      VARCHAR(50) NOT NULL,
  node_name      VARCHAR(200) NOT NULL,
  node_type      ENUM('start','operation','split','join','decision','end','qc','component','router') NOT NULL,
  team_category  ENUM('cutting','sewing','qc','finishing','general') NULL,
  wip_limit      INT NULL,
  node_config    JSON NULL,
  sequence_no    INT DEFAULT 0,
  UNIQUE KEY uniq_graph_node_code (id_graph, node_code),
  KEY idx_graph (id_graph)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE job_graph_instance (
  id_instance     INT PRIMARY KEY AUTO_INCREMENT,
  id_job_ticket   INT NOT NULL,
  id_graph        INT NOT NULL,
  status          ENUM('active','paused','completed','cancelled') NOT NULL DEFAULT 'active',
  production_type ENUM('hatthasilpa','classic','hybrid') NULL,
  started_at      DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at    DATETIME NULL,
  KEY idx_graph (id_graph)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team (
  id_team         INT PRIMARY KEY AUTO_INCREMENT,
  code            VARCHAR(50) NOT NULL,
  name            VARCHAR(100) NOT NULL,
  description     TEXT NULL,
  id_org          INT NOT NULL DEFAULT 1,
  team_category   ENUM('cutting','sewing','qc','finishing','general') DEFAULT 'general',
  production_mode ENUM('classic','hatthasilpa','hybrid') DEFAULT 'hybrid',
  active          TINYINT(1) DEFAULT 1,
  created_at      DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE team_member (
  id_team          INT NOT NULL,
  id_member        INT NOT NULL,
  role             ENUM('lead','supervisor','qc','member','trainee') DEFAULT 'member',
  capacity_per_day INT DEFAULT 0,
  active           TINYINT(1) DEFAULT 1,
  joined_at        DATETIME NULL,
  PRIMARY KEY (id_team, id_member),
  KEY idx_member (id_member, active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE flow_token (
  id_token          INT PRIMARY KEY AUTO_INCREMENT,
  id_instance       INT NOT NULL,
  graph_version     VARCHAR(20) NULL,
  token_type        ENUM('batch','piece','component') NOT NULL DEFAULT 'piece',
  serial_number     VARCHAR(100) NULL,
  parent_token_id   INT NULL,
  current_node_id   INT NULL,
  status            ENUM('ready','active','waiting','paused','completed','scrapped') NOT NULL DEFAULT 'ready',
  qty               DECIMAL(10,2) DEFAULT 1.00,
  metadata          JSON NULL,
  spawned_at        DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at      DATETIME NULL,
  scrapped_at       DATETIME NULL,
  KEY idx_instance (id_instance),
  KEY idx_status (status),
  KEY idx_current_node (current_node_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE token_assignment (
  id_assignment       INT PRIMARY KEY AUTO_INCREMENT,
  id_token            INT NOT NULL,
  id_node             INT NOT NULL,
  assigned_to_user_id INT NOT NULL,
  assigned_by_user_id INT NOT NULL DEFAULT 0,
  status              ENUM('assigned','accepted','started','paused','completed','cancelled','rejected') NOT NULL DEFAULT 'assigned',
  pinned_by           INT NULL,
  assigned_at         DATETIME NULL,
  accepted_at         DATETIME NULL,
  started_at          DATETIME NULL,
  paused_at           DATETIME NULL,
  completed_at        DATETIME NULL,
  cancelled_at        DATETIME NULL,
  KEY idx_token (id_token),
  KEY idx_node_status (id_node, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mv_token_flow_summary (
  id              INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at     DATETIME NOT NULL COMMENT 'Snapshot timestamp',
  graph_id        INT NULL,
  node_id         INT NULL,
  team_id         INT NULL,
  wip_count       INT NOT NULL DEFAULT 0,
  completed_count INT NOT NULL DEFAULT 0,
  waiting_count   INT NOT NULL DEFAULT 0,
  KEY idx_snapshot (snapshot_at),
  KEY idx_graph_node (graph_id, node_id),
  KEY idx_team (team_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized WIP summary';

CREATE TABLE IF NOT EXISTS mv_node_bottlenecks (
  id               INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at      DATETIME NOT NULL,
  node_id          INT NOT NULL,
  node_code        VARCHAR(50) NULL,
  node_name        VARCHAR(200) NULL,
  queue_depth      INT NOT NULL DEFAULT 0,
  avg_wait_minutes DECIMAL(10,2) NULL,
  bottleneck_score DECIMAL(10,2) NULL COMMENT 'Calculated score (higher = more bottleneck)',
  KEY idx_snapshot (snapshot_at),
  KEY idx_node (node_id),
  KEY idx_score (bottleneck_score DESC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized bottleneck analysis';

CREATE TABLE IF NOT EXISTS mv_team_workload (
  id             INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at    DATETIME NOT NULL,
  team_id        INT NOT NULL,
  team_name      VARCHAR(100) NULL,
  team_category  VARCHAR(32) NULL,
  active_tokens  INT NOT NULL DEFAULT 0,
  waiting_tokens INT NOT NULL DEFAULT 0,
  avg_load       DECIMAL(5,2) NULL COMMENT 'Percentage load',
  KEY idx_snapshot (snapshot_at),
  KEY idx_team (team_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized team workload';

CREATE TABLE IF NOT EXISTS mv_cycle_time_analytics (
  id           INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at  DATETIME NOT NULL,
  node_id      INT NULL,
  team_id      INT NULL,
  period_start DATE NOT NULL,
  period_end   DATE NOT NULL,
  token_count  INT NOT NULL DEFAULT 0,
  p50_minutes  DECIMAL(10,2) NULL COMMENT 'Median cycle time',
  p95_minutes  DECIMAL(10,2) NULL COMMENT '95th percentile cycle time',
  avg_minutes  DECIMAL(10,2) NULL,
  KEY idx_snapshot (snapshot_at),
  KEY idx_node (node_id),
  KEY idx_team (team_id),
  KEY idx_period (period_start, period_end)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized cycle time analytics';

CREATE TABLE IF NOT EXISTS mv_dashboard_trends (
  id                  INT AUTO_INCREMENT PRIMARY KEY,
  snapshot_at         DATETIME NOT NULL COMMENT 'When this day was last recomputed',
  period_date         DATE NOT NULL,
  production_type     VARCHAR(32) NULL,
  graph_id            INT NULL,
  tokens_completed    INT NOT NULL DEFAULT 0,
  tokens_spawned      INT NOT NULL DEFAULT 0,
  avg_lead_time_hours DECIMAL(10,2) NULL,
  throughput_per_day  DECIMAL(10,2) NULL,
  KEY idx_snapshot (snapshot_at),
  KEY idx_period (period_date, production_type, graph_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Materialized daily trends';

INSERT INTO routing_graph (id_graph, code, name, graph_type, production_type) VALUES
  (1, 'CLASSIC-TOTE', 'Classic tote bag', 'sequential', 'classic'),
  (2, 'SMALL-GOODS', 'Small leather goods', 'assembly', NULL);
INSERT INTO routing_node (id_node, id_graph, node_code, node_name, node_type, team_category, wip_limit, sequence_no) VALUES
  (1, 1, 'CUT', 'Leather cutting', 'start', 'cutting', 21, 1),
  (2, 1, 'SEW', 'Machine sewing', 'operation', 'sewing', 27, 2),
  (3, 1, 'EDGE', 'Edge painting', 'operation', 'finishing', 51, 3),
  (4, 1, 'QC1', 'Quality check', 'qc', 'qc', NULL, 4),
  (5, 1, 'PACK', 'Packing', 'end', 'general', NULL, 5),
  (6, 2, 'PREP', 'Material preparation', 'start', NULL, 17, 1),
  (7, 2, 'STITCH', 'Hand stitching', 'operation', 'sewing', 10, 2),
  (8, 2, 'FINAL', 'Final inspection', 'end', 'qc', NULL, 3);
INSERT INTO team (id_team, code, name, team_category, production_mode, active) VALUES
  (1, 'CUT-A', 'Cutting Team A', 'cutting', 'classic', 1),
  (2, 'SEW-A', 'Sewing Team A', 'sewing', 'hybrid', 1),
  (3, 'QC', 'Quality Control', 'qc', 'hybrid', 1),
  (4, 'SUPPORT', 'Line Support', 'general', 'hybrid', 1),
  (5, 'SEW-N', 'Sewing Night Shift', 'sewing', 'hatthasilpa', 0);
INSERT INTO team_member (id_team, id_member, role, capacity_per_day, active) VALUES
  (1, 1002, 'lead', NULL, 1),
  (1, 1010, 'member', 0, 1),
  (1, 1011, 'member', 6, 0),
  (2, 1001, 'lead', 20, 1),
  (2, 1004, 'trainee', 14, 1),
  (2, 1005, 'trainee', NULL, 1),
  (2, 1007, 'member', 0, 1),
  (2, 1008, 'member', 14, NULL),
  (2, 1013, 'member', 24, 1),
  (3, 1006, 'lead', 17, 1),
  (3, 1009, 'member', NULL, 1),
  (4, 1003, 'lead', 0, 0),
  (4, 1007, 'member', 21, 1),
  (5, 1002, 'lead', 30, 1),
  (5, 1008, 'member', 24, 1),
  (5, 1010, 'member', NULL, 1),
  (5, 1012, 'member', 0, 1);
