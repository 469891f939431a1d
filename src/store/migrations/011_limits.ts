/**
 * Rate limits of API keys and tenants: `{"rpm": requests per minute, "tpm": tokens per minute}`,
 * either absent for no limit. Model aliases take theirs from the config (`models.<alias>.limits`).
 */
export const up = `
ALTER TABLE api_keys ADD COLUMN limits jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN limits jsonb NOT NULL DEFAULT '{}';
`;
