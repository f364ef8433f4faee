//! `/v1/vim-accounts`: register, list and show VIM accounts (the password never comes back).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use rovim_core::{SdnControllerId, VimAccountId, VimType};
use rovim_store::{NewVimAccount, Secret, VimAccountChanges, accounts, leases};
use serde::Deserialize;

use super::{id, read};
use crate::audit::{self, Change};
use crate::error::{ApiError, ErrorBody};
use crate::views::VimAccountView;
use crate::{ApiState, body};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/vim-accounts")
            .route(web::post().to(create))
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/vim-accounts/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(edit))
            .route(web::delete().to(remove))
            .default_service(web::to(method_not_allowed)),
    );
}

pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let reason = format!("{} is not allowed on {}", req.method(), req.path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method", reason).error_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    name: String,
    /// `sim`, `openstack`, `aws` or `libvirt`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "sim")]
    vim_type: VimType,
    url: String,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    sdn_controller: Option<SdnControllerId>,
}

#[utoipa::path(post, path = "/v1/vim-accounts", operation_id = "create_vim_account", tag = "vim-accounts", request_body = NewAccount,
    responses((status = 201, body = VimAccountView), (status = 422, description = "refused input", body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let new: NewAccount = body::parse(&req, payload, false).await?;
    let config = new.config.unwrap_or_else(|| serde_json::json!({}));
    if !config.is_object() {
        return Err(ApiError::unprocessable("config", "must be an object"));
    }
    if let Some(sdn) = new.sdn_controller {
        let known = read(&state, accounts::list_sdn_controllers)
            .await?
            .iter()
            .any(|c| c.id == sdn);
        if !known {
            return Err(ApiError::unprocessable(
                "sdn_controller",
                format!("no SDN controller {sdn}"),
            ));
        }
    }
    let account = state
        .engine
        .add_account(NewVimAccount {
            id: VimAccountId::generate(),
            name: new.name,
            vim_type: new.vim_type,
            url: new.url,
            tenant: new.tenant,
            username: new.user,
            secret: new.password.map(Secret::new),
            config,
            sdn_controller: new.sdn_controller,
        })
        .await?;
    let id = account.id.to_string();
    audit::record(
        state.engine.log(),
        &req,
        Change::VimAccountCreated,
        &id,
        &[],
    );
    Ok(HttpResponse::Created().json(VimAccountView::from(&account)))
}

#[utoipa::path(get, path = "/v1/vim-accounts", operation_id = "list_vim_accounts", tag = "vim-accounts", responses((status = 200, body = Vec<VimAccountView>)))]
pub(crate) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let (all, owners) = read(&state, |c| {
        Ok((accounts::list_vim_accounts(c)?, leases::account_owners(c)?))
    })
    .await?;
    let views: Vec<VimAccountView> = all
        .iter()
        .map(|a| VimAccountView::with_owner(a, &owners))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(get, path = "/v1/vim-accounts/{id}", operation_id = "show_vim_account", tag = "vim-accounts", params(("id" = String, Path)),
    responses((status = 200, body = VimAccountView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let vim: VimAccountId = id("VIM account", &path)?;
    let (account, owners) = read(&state, move |c| {
        Ok((
            accounts::get_vim_account(c, vim)?,
            leases::account_owners(c)?,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(VimAccountView::with_owner(&account, &owners)))
}

/// A partial edit: absent keys stay; `null` clears an optional one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Edit {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tenant: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    user: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    sdn_controller: Option<Option<SdnControllerId>>,
}

impl Edit {
    /// The names of the keys given (for the audit record; never their values).
    fn fields(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("url", self.url.is_some()),
            ("tenant", self.tenant.is_some()),
            ("user", self.user.is_some()),
            ("password", self.password.is_some()),
            ("config", self.config.is_some()),
            ("sdn_controller", self.sdn_controller.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

/// Tells a key given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/v1/vim-accounts/{id}", operation_id = "edit_vim_account", tag = "vim-accounts", params(("id" = String, Path)), request_body = Edit,
    responses((status = 200, body = VimAccountView), (status = 422, description = "refused input", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn edit(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let vim: VimAccountId = id("VIM account", &path)?;
    let e: Edit = body::parse(&req, payload, false).await?;
    if e.config.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(ApiError::unprocessable("config", "must be an object"));
    }
    let fields = e.fields();
    let changes = VimAccountChanges {
        name: e.name,
        url: e.url,
        tenant: e.tenant,
        username: e.user,
        secret: e.password.map(|p| p.map(Secret::new)),
        config: e.config,
        sdn_controller: e.sdn_controller,
    };
    let account = state.engine.update_account(vim, changes).await?;
    audit::record(
        state.engine.log(),
        &req,
        Change::VimAccountEdited,
        &vim.to_string(),
        &fields,
    );
    Ok(HttpResponse::Ok().json(VimAccountView::from(&account)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

#[utoipa::path(delete, path = "/v1/vim-accounts/{id}", operation_id = "delete_vim_account", tag = "vim-accounts",
    params(("id" = String, Path), ("force" = Option<bool>, Query, description = "delete although it has live elements")),
    responses((status = 204), (status = 409, description = "it has live elements", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    q: web::Query<RemoveQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let vim: VimAccountId = id("VIM account", &path)?;
    state.engine.delete_account(vim, q.force).await?;
    let forced: &[&str] = if q.force { &["force"] } else { &[] };
    audit::record(
        state.engine.log(),
        &req,
        Change::VimAccountDeleted,
        &vim.to_string(),
        forced,
    );
    Ok(HttpResponse::NoContent().finish())
}
