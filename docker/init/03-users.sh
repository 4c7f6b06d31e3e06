# The least-privilege logins of flowtally (README "What the server needs"). Sourced, not run,
# by the mysql image's entrypoint (this file is not executable), once, when the data volume is
# first initialised and after 02-tenants.sql (table grants need the tables), so that
# docker_process_sql (root, on the init server's socket) is at hand and the passwords come from
# the same environment variables docker-compose.yml hands to the flowtally service.
#
# flowtally_reader: the binlog (REPLICATION SLAVE, REPLICATION CLIENT) and the tables it reads.
# flowtally_writer: the mv_ tables, and the writer's lease of [ha] (01-core.sql). Neither may
# change a table definition: the tables exist already, so `flowtally migrate` is not needed here.

: "${FLOWTALLY_READER_PASSWORD:?set FLOWTALLY_READER_PASSWORD for the mysql service}"
: "${FLOWTALLY_WRITER_PASSWORD:?set FLOWTALLY_WRITER_PASSWORD for the mysql service}"

mysql_note "Creating users flowtally_reader and flowtally_writer"
docker_process_sql --database=mysql <<EOSQL
CREATE USER 'flowtally_reader'@'%' IDENTIFIED BY '${FLOWTALLY_READER_PASSWORD}';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'flowtally_reader'@'%';
GRANT SELECT ON bgerp.organization TO 'flowtally_reader'@'%';
GRANT SELECT ON bgerp_t_default.* TO 'flowtally_reader'@'%';
GRANT SELECT ON bgerp_t_acme.* TO 'flowtally_reader'@'%';

CREATE USER 'flowtally_writer'@'%' IDENTIFIED BY '${FLOWTALLY_WRITER_PASSWORD}';
GRANT SELECT, INSERT, DELETE ON bgerp_t_default.mv_token_flow_summary TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_default.mv_node_bottlenecks TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_default.mv_team_workload TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_default.mv_cycle_time_analytics TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_default.mv_dashboard_trends TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_acme.mv_token_flow_summary TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_acme.mv_node_bottlenecks TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_acme.mv_team_workload TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_acme.mv_cycle_time_analytics TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, DELETE ON bgerp_t_acme.mv_dashboard_trends TO 'flowtally_writer'@'%';
GRANT SELECT, INSERT, UPDATE ON bgerp.flowtally_lease TO 'flowtally_writer'@'%';
EOSQL
