-- larkgw run --config packaging/larkgw.conf.lua
-- Every key is optional; LARK_* environment variables fill the secrets.
app_id             = env("LARK_APP_ID")
app_secret         = env("LARK_APP_SECRET")
encrypt_key        = env("LARK_ENCRYPT_KEY")          -- webhook decryption + signature
verification_token = env("LARK_VERIFICATION_TOKEN")
domain             = env("LARK_DOMAIN") or "https://open.feishu.cn"
app_type           = "self_built"                      -- or "marketplace"
mode               = "ws"                              -- "ws" | "webhook" | "both"
connections        = 1                                 -- long connections to open (1..50)
scripts            = "scripts/examples"
webhook = { listen = "0.0.0.0:9999", path = "/webhook/event",
            card_path = "/webhook/card",               -- old message cards' request URL
            max_body = 1048576, max_skew_s = 300,
            max_connections = 1024, max_connections_per_ip = 64 }
admin   = { listen = "127.0.0.1:9900" }                -- /healthz /readyz /metrics
-- With token = env("LARKGW_ADMIN_TOKEN") in admin, POST /admin/reload needs
-- "Authorization: Bearer <token>"; a listen address beyond loopback requires a token.
-- Or listen = "unix:/run/larkgw/admin.sock": a 0600 socket, its permissions the proof.
limits  = { memory_mb = 64, handler_timeout_ms = 2500, handler_max_s = 60,
            upload_max_mb = 30, download_max_mb = 20 }   -- lark.api.upload / download
ack_deadline_ms    = 2500
order              = "chat"                            -- or "none"
dedup   = { ttl_s = 28800, max_entries = 1000000 }
state_dir          = "/var/lib/larkgw"
log     = { level = "info", format = "text" }          -- or "json"
-- Several gateways of one app (boxes or workers): share dedup, lark.store, tokens, the
-- app_ticket and chat order through one Redis; the password from LARKGW_REDIS_PASSWORD.
-- redis = { url = "redis://10.0.0.7:6379/0", prefix = "larkgw:" }
workers            = 1                                 -- processes, one per core; more than 1 needs redis
