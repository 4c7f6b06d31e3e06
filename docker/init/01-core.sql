-- The ERP's core database and its tenant registry, with the two demo tenants.
-- Run once by the mysql image when its data volume is first initialised (files in
-- /docker-entrypoint-initdb.d run in name order: this one, 02-tenants.sql, then 03-users.sh).
-- The DDL is crates/testkit/sql/core.sql.

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
