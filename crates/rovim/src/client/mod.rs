//! The CLI's client commands: they talk to a running `rovim serve` over its HTTP API only.

mod events;
mod output;
mod watch;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
// Ids are typed so that only a UUID reaches a URL path (`vim show ../actions` used to list actions).
use rovim_core::{ActionId, SdnControllerId, VimAccountId};
use serde_json::{Value, json};

pub use output::Output;

/// Where the API is and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct Api {
    /// Base URL of the rovim API [default: http://127.0.0.1:9090]. `rovim bench` starts its own
    /// service unless this is given.
    #[arg(long, global = true, env = "ROVIM_API_URL")]
    pub api_url: Option<String>,
    /// Bearer token for the API.
    #[arg(long, global = true, env = "ROVIM_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, global = true, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum VimCommand {
    /// Register a VIM account.
    Add {
        name: String,
        /// sim, openstack, aws or libvirt.
        #[arg(long = "type")]
        vim_type: String,
        #[arg(long)]
        url: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// Read from the environment variable ROVIM_VIM_PASSWORD rather than the command line.
        #[arg(long, env = "ROVIM_VIM_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The account's config as JSON, e.g. '{"build_seconds": 5}'.
        #[arg(long, default_value = "{}")]
        config: String,
        /// SDN controller id.
        #[arg(long)]
        sdn_controller: Option<SdnControllerId>,
    },
    List,
    Show {
        id: VimAccountId,
    },
    /// Edit an account (only the options given change; its actor restarts).
    Edit {
        id: VimAccountId,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// A new password. Only when given here: ROVIM_VIM_PASSWORD (read by `vim add`) would
        /// otherwise replace the password at every edit.
        #[arg(long)]
        password: Option<String>,
        /// The whole new config as JSON.
        #[arg(long)]
        config: Option<String>,
    },
    /// Delete an account (refused while it has live elements, unless --force).
    Rm {
        id: VimAccountId,
        #[arg(long)]
        force: bool,
    },
    /// List what rovim made on the account's VIM and no live item owns (--sweep deletes it).
    Orphans {
        id: VimAccountId,
        /// Delete the orphans.
        #[arg(long)]
        sweep: bool,
        /// With --sweep: only show what would be deleted.
        #[arg(long, requires = "sweep")]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SdnCommand {
    /// Register an SDN controller.
    Add {
        name: String,
        #[arg(long = "type", default_value = "sim")]
        sdn_type: String,
        #[arg(long)]
        url: String,
    },
    List,
    /// Delete an SDN controller (refused while a VIM account names it).
    Rm {
        id: SdnControllerId,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Submit an action from a JSON or YAML file (`-` for standard input).
    Submit {
        file: String,
    },
    Show {
        id: ActionId,
    },
    /// Follow an action until it ends, with a progress bar, then show its tasks.
    Watch {
        id: ActionId,
    },
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

impl Api {
    /// Where the client commands send their requests.
    pub fn base(&self) -> &str {
        self.api_url
            .as_deref()
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
    }
}

const DEFAULT_API_URL: &str = "http://127.0.0.1:9090";

pub(crate) struct Client {
    api: Api,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(api: &Api) -> anyhow::Result<Client> {
        Ok(Client {
            api: api.clone(),
            http: rovim_vim::tls::client()?,
        })
    }

    pub(crate) fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.api.base());
        let r = self.http.request(method, url);
        match &self.api.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// For answers without a body (204).
    async fn send_empty(&self, r: reqwest::RequestBuilder) -> anyhow::Result<()> {
        let resp = r
            .send()
            .await
            .with_context(|| format!("cannot reach the rovim API at {}", self.api.base()))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        bail!(
            "{status}: {}",
            body["error"]["reason"]
                .as_str()
                .unwrap_or("no reason given")
        );
    }

    pub(crate) async fn send(&self, r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = r
            .send()
            .await
            .with_context(|| format!("cannot reach the rovim API at {}", self.api.base()))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let e = &body["error"];
            let field = e["field"].as_str().unwrap_or("");
            let reason = e["reason"].as_str().unwrap_or("no reason given");
            if field.is_empty() {
                bail!("{status}: {reason}");
            }
            bail!("{status}: {field}: {reason}");
        }
        Ok(body)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn vim(api: &Api, cmd: VimCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let c = Client::new(api)?;
        match cmd {
            VimCommand::Add { name, vim_type, url, tenant, user, password, config, sdn_controller } => {
                let config: Value = serde_json::from_str(&config).context("--config is not JSON")?;
                let body = json!({"name": name, "type": vim_type, "url": url, "tenant": tenant, "user": user,
                                  "password": password, "config": config, "sdn_controller": sdn_controller});
                let v = c.send(c.req(reqwest::Method::POST, "/v1/vim-accounts").json(&body)).await?;
                output::one(api.output, &v, &["id", "name", "type", "url", "status"])
            }
            VimCommand::List => {
                let v = c.send(c.req(reqwest::Method::GET, "/v1/vim-accounts")).await?;
                output::many(api.output, &v, &["id", "name", "type", "url", "status", "restart_count", "error"])
            }
            VimCommand::Edit { id, name, url, tenant, user, password, config } => {
                let mut body = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        body.insert(k.into(), v);
                    }
                };
                put("name", name.map(Value::String));
                put("url", url.map(Value::String));
                put("tenant", tenant.map(Value::String));
                put("user", user.map(Value::String));
                put("password", password.map(Value::String));
                let config: Option<Value> =
                    config.map(|c| serde_json::from_str(&c)).transpose().context("--config is not JSON")?;
                put("config", config);
                let v = c.send(c.req(reqwest::Method::PATCH, &format!("/v1/vim-accounts/{id}")).json(&body)).await?;
                output::one(api.output, &v, &["id", "name", "type", "url", "status"])
            }
            VimCommand::Rm { id, force } => {
                let path = format!("/v1/vim-accounts/{id}{}", if force { "?force=true" } else { "" });
                c.send_empty(c.req(reqwest::Method::DELETE, &path)).await?;
                println!("deleted VIM account {id}");
                Ok(())
            }
            VimCommand::Orphans { id, sweep: false, .. } => {
                let v = c.send(c.req(reqwest::Method::GET, &format!("/v1/vim-accounts/{id}/orphans"))).await?;
                output::many(api.output, &v, &["kind", "vim_id", "name", "age_secs", "why"])
            }
            VimCommand::Orphans { id, sweep: true, dry_run } => {
                let path = format!("/v1/vim-accounts/{id}/orphans/sweep{}", if dry_run { "?dry_run=true" } else { "" });
                let v = c.send(c.req(reqwest::Method::POST, &path)).await?;
                let verb = if dry_run { "would delete" } else { "deleted" };
                let deleted = v["deleted"].as_array().map_or(0, Vec::len);
                output::many(api.output, &v["deleted"], &["kind", "vim_id", "name", "age_secs", "why"])?;
                eprintln!("{verb} {deleted} orphan(s)");
                if let Some(failed) = v["failed"].as_array().filter(|f| !f.is_empty()) {
                    for f in failed {
                        eprintln!("not deleted: {} {}: {}", f["orphan"]["kind"], f["orphan"]["vim_id"], f["error"]);
                    }
                    anyhow::bail!("{} orphan(s) could not be deleted", failed.len());
                }
                Ok(())
            }
            VimCommand::Show { id } => {
                let v = c.send(c.req(reqwest::Method::GET, &format!("/v1/vim-accounts/{id}"))).await?;
                output::one(api.output, &v, &["id", "name", "type", "url", "tenant", "user", "sdn_controller", "status", "restart_count", "error", "created_at"])
            }
        }
    })
}

pub fn sdn(api: &Api, cmd: SdnCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let c = Client::new(api)?;
        match cmd {
            SdnCommand::Add {
                name,
                sdn_type,
                url,
            } => {
                let body = json!({"name": name, "type": sdn_type, "url": url});
                let v = c
                    .send(
                        c.req(reqwest::Method::POST, "/v1/sdn-controllers")
                            .json(&body),
                    )
                    .await?;
                output::one(api.output, &v, &["id", "name", "type", "url"])
            }
            SdnCommand::Rm { id } => {
                c.send_empty(c.req(
                    reqwest::Method::DELETE,
                    &format!("/v1/sdn-controllers/{id}"),
                ))
                .await?;
                println!("deleted SDN controller {id}");
                Ok(())
            }
            SdnCommand::List => {
                let v = c
                    .send(c.req(reqwest::Method::GET, "/v1/sdn-controllers"))
                    .await?;
                output::many(api.output, &v, &["id", "name", "type", "url"])
            }
        }
    })
}

pub fn action(api: &Api, cmd: ActionCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let c = Client::new(api)?;
        match cmd {
            ActionCommand::Submit { file } => {
                let text = if file == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(Path::new(&file))
                        .with_context(|| format!("reading {file}"))?
                };
                let yaml = file.ends_with(".yaml")
                    || file.ends_with(".yml")
                    || !text.trim_start().starts_with('{');
                let ct = if yaml {
                    "application/yaml"
                } else {
                    "application/json"
                };
                let r = c
                    .req(reqwest::Method::POST, "/v1/actions")
                    .header("content-type", ct)
                    .body(text);
                let v = c.send(r).await?;
                match api.output {
                    Output::Table => {
                        println!("action {}", v["action_id"].as_str().unwrap_or(""));
                        output::many(Output::Table, &v["tasks"], &["index", "item", "item_id"])
                    }
                    other => output::one(other, &v, &[]),
                }
            }
            ActionCommand::Show { id } => {
                let v = c
                    .send(c.req(reqwest::Method::GET, &format!("/v1/actions/{id}")))
                    .await?;
                show_action(api.output, &v)
            }
            ActionCommand::Watch { id } => {
                watch::follow(&c, &id.to_string()).await?;
                let v = c
                    .send(c.req(reqwest::Method::GET, &format!("/v1/actions/{id}")))
                    .await?;
                eprintln!();
                show_action(api.output, &v)?;
                if v["status"] == "FAILED" {
                    bail!("action {id} FAILED");
                }
                Ok(())
            }
            ActionCommand::List { limit } => {
                let v = c
                    .send(c.req(reqwest::Method::GET, &format!("/v1/actions?limit={limit}")))
                    .await?;
                output::many(
                    api.output,
                    &v,
                    &[
                        "id",
                        "status",
                        "number_tasks",
                        "number_done",
                        "number_failed",
                        "description",
                        "created_at",
                    ],
                )
            }
        }
    })
}

/// `GET /v1/instances`: the instances sharing the database, each with the number of VIM
/// accounts it runs (the JSON output lists them).
pub fn instances(api: &Api) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let c = Client::new(api)?;
        let mut v = c.send(c.req(reqwest::Method::GET, "/v1/instances")).await?;
        if let (Output::Table, Some(all)) = (api.output, v.as_array_mut()) {
            for i in all {
                let n = i["vim_accounts"].as_array().map_or(0, Vec::len);
                i["accounts"] = json!(n);
                i["this"] = json!(if i["this"] == json!(true) { "*" } else { "" });
            }
        }
        output::many(
            api.output,
            &v,
            &[
                "this",
                "id",
                "address",
                "version",
                "accounts",
                "heartbeat_at",
                "started_at",
            ],
        )
    })
}

/// `GET /healthz` with a short timeout; an error says why the service is not healthy.
pub fn probe(api: &Api) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let url = format!("{}/healthz", api.base());
        let resp = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()?
            .get(&url)
            .send()
            .await
            .with_context(|| format!("{url} did not answer"))?;
        if !resp.status().is_success() {
            bail!("{url} answered {}", resp.status());
        }
        println!("healthy");
        Ok(())
    })
}

fn show_action(out: Output, v: &Value) -> anyhow::Result<()> {
    match out {
        Output::Table => {
            println!(
                "action {}  {}  {}/{} done, {} failed  {}",
                v["id"].as_str().unwrap_or(""),
                v["status"].as_str().unwrap_or(""),
                v["number_done"],
                v["number_tasks"],
                v["number_failed"],
                rovim_core::escape_controls(v["description"].as_str().unwrap_or(""))
            );
            output::many(
                Output::Table,
                &v["tasks"],
                &["index", "action", "item", "status", "vim_id", "error"],
            )
        }
        other => output::one(other, v, &[]),
    }
}
