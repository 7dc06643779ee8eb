-- The app role of deploy/compose.yaml: owns its database, is no superuser and cannot bypass row-level security.
CREATE ROLE p2p_app LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD 'p2p_app';
CREATE DATABASE p2p OWNER p2p_app;
