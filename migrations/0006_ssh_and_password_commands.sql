-- Reaching production where it is: an SSH route to the database's server, and a password
-- from a command. A profile whose password comes from a command has password_command set and
-- password_storage 'none' (no password is kept anywhere): widening password_storage's CHECK
-- would mean rebuilding the table that workspace_connections references.

-- The hops from the first one connected to, as a JSON list of "[user@]host[:port]" or ssh
-- config aliases; NULL: the database is reached directly.
ALTER TABLE connections ADD COLUMN ssh_hops TEXT;
-- A private key file to offer (absolute path); NULL: the agent's and the ssh config's.
ALTER TABLE connections ADD COLUMN ssh_identity TEXT;
-- The command whose first line of output is the password. Configuration, not a secret.
ALTER TABLE connections ADD COLUMN password_command TEXT;
-- Seconds a password from the command is used before it is fetched again; NULL: 600.
ALTER TABLE connections ADD COLUMN password_lifetime INTEGER;
