DROP TABLE IF EXISTS oidc_logins;
DROP TABLE IF EXISTS oidc_clients;
DELETE FROM tenants WHERE idp_entity_id IS NULL OR idp_metadata_xml IS NULL;
ALTER TABLE tenants ALTER COLUMN idp_entity_id SET NOT NULL;
ALTER TABLE tenants ALTER COLUMN idp_metadata_xml SET NOT NULL;
