-- The ERP's core database and its tenant registry, with the two demo tenants.
-- Run once by the mysql image when its data volume is first initialised (files in
-- /docker-entrypoint-initdb.d run in name order: this one, 02-tenants.sql, then 03-users.sh).
-- The DDL is crates/testkit/sql/core.sql, and the writer's lease of [ha] as `flowtally migrate`
-- creates it (two flowtally instances run here, one writes).

CREATE DATABASE IF NOT EXISTS bgerp CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS bgerp.organization (
  id_org     INT PRIMARY KEY AUTO_INCREMENT,
  code       VARCHAR(50) NOT NULL UNIQUE,
  name       VARCHAR(200) NULL,
  status     ENUM('active','inactive') NOT NULL DEFAULT 'active',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO bgerp.organization (code, name, status) VALUES
  ('DEFAULT', 'Factory DEFAULT', 'active'),
  ('ACME', 'Factory ACME', 'active');

CREATE TABLE IF NOT EXISTS `bgerp`.`flowtally_lease` (
  name VARCHAR(100) NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NOT NULL DEFAULT '',
  term BIGINT UNSIGNED NOT NULL DEFAULT 0,
  expires_at DATETIME(3) NULL,
  written_at BIGINT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
