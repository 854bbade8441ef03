//! OpenAPI 3.0/3.1: loading (YAML 1.2 / JSON, `$ref`), routing requests to operations,
//! checking requests and responses against the contract, coverage, and inferring endpoint
//! templates for traffic the spec does not document.
//!
//! Entry points: [`Spec::load`] then [`Spec::route`] / [`Spec::operation_name`] (endpoint
//! names for other modules), and [`check::Checker`] (findings per exchange and the
//! aggregated [`findings::DiffReport`]).

pub mod check;
pub mod cluster;
pub mod coverage;
pub mod findings;
pub mod infer;
pub mod load;
pub mod report;
pub mod route;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use load::{OasVersion, Operation, SpecError, SpecProblem};
pub use route::RouteResult;

use crate::model::Exchange;

/// A loaded spec with its router.
#[derive(Debug)]
pub struct Spec {
    /// Where it was read from.
    pub source: PathBuf,
    /// The bundled document.
    pub doc: Arc<Value>,
    /// 3.0 or 3.1.
    pub version: OasVersion,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub api_version: String,
    /// Every operation.
    pub operations: Vec<Operation>,
    /// Problems found while loading.
    pub problems: Vec<SpecProblem>,
    /// See [`load::Loaded::documents_request_bodies`].
    pub documents_request_bodies: bool,
    /// See [`load::Loaded::documents_response_bodies`].
    pub documents_response_bodies: bool,
    router: route::Router,
}

impl Spec {
    /// Load a spec file (YAML or JSON, OpenAPI 3.0.x or 3.1.x).
    ///
    /// # Errors
    /// [`SpecError`] with the file and a JSON pointer or line.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::load_with(path, load::LoadOptions::default())
    }

    /// Load a spec with `opts` (e.g. following `$ref`s outside its folder).
    ///
    /// # Errors
    /// As [`Spec::load`].
    pub fn load_with(path: &Path, opts: load::LoadOptions) -> Result<Self, SpecError> {
        let l = load::load_with(path, opts)?;
        let router = route::Router::new(&l.server_sets, &l.operations);
        let info = |k: &str| l.doc.pointer(&format!("/info/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
        Ok(Self {
            source: path.to_path_buf(),
            title: info("title"),
            api_version: info("version"),
            version: l.version,
            operations: l.operations,
            problems: l.problems,
            documents_request_bodies: l.documents_request_bodies,
            documents_response_bodies: l.documents_response_bodies,
            doc: Arc::new(l.doc),
            router,
        })
    }

    /// Replace every `servers` list with `urls` (the `--server` option).
    pub fn override_servers(&mut self, urls: &[String]) {
        if !urls.is_empty() {
            self.router.override_servers(urls);
        }
    }

    /// Server URLs in effect.
    #[must_use]
    pub fn server_urls(&self) -> Vec<String> {
        self.router.server_urls()
    }

    /// Route an exchange's request to an operation.
    #[must_use]
    pub fn route(&self, ex: &Exchange) -> RouteResult {
        let host = ex.host();
        self.router.route(&ex.request.method, ex.request.scheme.as_deref(), &host, ex.request.path())
    }

    /// Endpoint name of a documented exchange: `"GET /v1/orders/{id}"` (the template as the
    /// spec writes it, behind the server base path). `None` when the spec does not document
    /// the request.
    #[must_use]
    pub fn operation_name(&self, ex: &Exchange) -> Option<String> {
        match self.route(ex) {
            RouteResult::Operation { method, template, .. } => Some(format!("{method} {template}")),
            _ => None,
        }
    }
}
