//! Owns the client's reads: single nodes and edges with field lists that drop fields a Graph
//! version does not know, paging to the end, multi-id reads with bounded concurrency, the typed
//! reads of WABAs, phone numbers, subscribed apps and templates, and token info (debug_token in
//! a batch). It must not write.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Call, GraphClient, MAX_IDS_PER_REQUEST, MAX_PAGES, check_id, decode, shape_error};
use crate::graph::class::{ErrorClass, Operation};
use crate::graph::error::{GraphError, RequestInfo, excerpt};
use crate::graph::nodes::{
    DebugTokenData, EDGE_PAGE_LIMIT, FieldSpec, MessageTemplate, PermissionEntry, PhoneNumber, SubscribedApp,
    TokenInfo, WABA_RESTRICTED_FIELDS, Waba, message_template_fields, phone_number_fields,
    subscribed_app_fields, waba_fields_with_edges,
};
use crate::graph::paging::{Edge, kind_of, sanitize_next};
use crate::secret::Secret;
use crate::ui::Level;

/// How WABAs are read: one node (`GET /{id}`), or a multi-id read (`GET /?ids=`).
#[derive(Debug, Clone, Copy)]
enum WabaRead {
    Node,
    Many,
}

impl GraphClient {
    // --- generic reads ---------------------------------------------------------------------

    /// `GET /{path}?fields=...` decoded as `T`.
    pub async fn get_node<T: DeserializeOwned>(&self, path: &str, fields: &str) -> Result<T, GraphError> {
        let call = self.get_call(path, fields, &[])?;
        let value = self.execute(&call).await?;
        decode(value, &call)
    }

    /// `GET /?ids=a,b&fields=...` in chunks of at most 50 ids, run concurrently (bounded by
    /// `max_concurrency`). Ids are deduplicated; the answer is keyed by id. Graph fails a whole
    /// chunk when one id is unknown, and so does this.
    pub async fn get_many<T>(
        &self,
        ids: &[impl AsRef<str>],
        fields: &str,
    ) -> Result<BTreeMap<String, T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let unique: BTreeSet<String> = ids.iter().map(|id| id.as_ref().to_owned()).collect();
        for id in &unique {
            check_id(id, "id")?;
        }
        let unique: Vec<String> = unique.into_iter().collect();
        if unique.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut tasks = JoinSet::new();
        for chunk in unique.chunks(MAX_IDS_PER_REQUEST) {
            let client = self.clone();
            let chunk = chunk.join(",");
            let fields = fields.to_owned();
            tasks.spawn(async move { client.get_ids_chunk::<T>(chunk, fields).await });
        }
        let mut out = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(part)) => out.extend(part),
                // Dropping `tasks` aborts the chunks still running.
                Ok(Err(error)) => return Err(error),
                Err(join_error) => return Err(task_stopped("a multi-id read", &join_error)),
            }
        }
        Ok(out)
    }

    async fn get_ids_chunk<T: DeserializeOwned>(
        &self,
        ids: String,
        fields: String,
    ) -> Result<BTreeMap<String, T>, GraphError> {
        let count = ids.split(',').count();
        let purpose = if count <= 3 { format!("ids {ids}") } else { format!("{count} ids") };
        let mut call = self.get_call("", &fields, &[("ids", ids)])?;
        call.purpose = Some(purpose);
        let value = self.execute(&call).await?;
        let Value::Object(map) = value else {
            return Err(shape_error(
                &call,
                format!("expected an object keyed by id, got {}", kind_of(&value)),
            ));
        };
        map.into_iter().map(|(id, node)| Ok((id, decode(node, &call)?))).collect()
    }

    /// Every item of an edge (`GET /{path}?fields=...&limit=...`), following `paging.next`
    /// until Graph gives none.
    pub async fn get_edge_all<T: DeserializeOwned>(
        &self,
        path: &str,
        fields: &str,
        limit: Option<u32>,
    ) -> Result<Vec<T>, GraphError> {
        let extra: Vec<(&str, String)> = limit.map(|l| ("limit", l.to_string())).into_iter().collect();
        let call = self.get_call(path, fields, &extra)?;
        let value = self.execute(&call).await?;
        let mut edge: Edge<T> = decode(value, &call)?;
        self.complete_edge(&mut edge).await?;
        Ok(edge.data)
    }

    /// Follows an edge's `paging.next` (e.g. of an edge expanded inside a node) to the end,
    /// appending every page's items; afterwards `edge.paging` has no `next`.
    pub async fn complete_edge<T: DeserializeOwned>(&self, edge: &mut Edge<T>) -> Result<(), GraphError> {
        let mut seen = BTreeSet::new();
        let mut pages = 0;
        while let Some(next) = edge.next().map(str::to_owned) {
            pages += 1;
            let url = sanitize_next(&self.inner.base, &next)?;
            if pages > MAX_PAGES || !seen.insert(url.to_string()) {
                return Err(GraphError::invalid_response(
                    None,
                    None,
                    format!("paging of {} does not end (a link repeats)", url.path()),
                ));
            }
            let call = Call {
                method: Method::GET,
                url,
                params: Vec::new(),
                secret_params: Vec::new(),
                op: Operation::Read,
                purpose: None,
            };
            let value = self.execute(&call).await?;
            let page: Edge<T> = decode(value, &call)?;
            edge.data.extend(page.data);
            edge.paging = page.paging;
        }
        if let Some(paging) = edge.paging.as_mut() {
            paging.next = None;
        }
        Ok(())
    }

    // --- typed reads -----------------------------------------------------------------------

    /// A WABA with its phone numbers, subscribed apps and templates expanded, every edge read
    /// to its end.
    pub async fn waba(&self, id: &str) -> Result<Waba, GraphError> {
        check_id(id, "WABA id")?;
        let mut found = self.read_wabas(&[id.to_owned()], WabaRead::Node).await?;
        let mut waba = found.remove(id).unwrap_or_default();
        self.complete_waba(&mut waba).await?;
        Ok(waba)
    }

    /// Several WABAs as [`GraphClient::waba`] does, in as few round trips as Graph allows.
    pub async fn wabas(&self, ids: &[impl AsRef<str>]) -> Result<BTreeMap<String, Waba>, GraphError> {
        let ids: Vec<String> = ids.iter().map(|id| id.as_ref().to_owned()).collect();
        let wabas = self.read_wabas(&ids, WabaRead::Many).await?;
        // Most WABAs fit their edges in the expanded first page; the few that do not are
        // followed together, so one long edge does not hold up the rest.
        let mut tasks = JoinSet::new();
        let mut complete = BTreeMap::new();
        for (id, mut waba) in wabas {
            if !waba_has_more_pages(&waba) {
                complete.insert(id, waba);
                continue;
            }
            let client = self.clone();
            tasks.spawn(async move { client.complete_waba(&mut waba).await.map(|()| (id, waba)) });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok((id, waba))) => {
                    complete.insert(id, waba);
                }
                Ok(Err(error)) => return Err(error),
                Err(join_error) => return Err(task_stopped("reading a WABA's edges", &join_error)),
            }
        }
        Ok(complete)
    }

    /// Reads WABAs with every field wamig wants. Some apps are refused fields such as
    /// `primary_funding_id` or `owner_business_info` (error 10 or 200), and Graph then refuses
    /// the whole read, whichever field it was. So a refused read is tried again without the
    /// fields apps may be refused; when that works, each of them is asked for on its own, and
    /// the ones still refused are listed in `Waba::refused_fields`. A read refused without
    /// them too is a WABA the token cannot read: the first error is returned.
    async fn read_wabas(&self, ids: &[String], how: WabaRead) -> Result<BTreeMap<String, Waba>, GraphError> {
        let mut spec = self.known_fields(waba_fields_with_edges());
        let refusal = loop {
            match self.read_wabas_with(ids, &spec, how).await {
                Ok(wabas) => return Ok(wabas),
                Err(error)
                    if error.class() == ErrorClass::Permission
                        && WABA_RESTRICTED_FIELDS.iter().any(|f| spec.contains(f)) =>
                {
                    break error;
                }
                Err(error) => spec = self.without_unsupported(error, &spec)?,
            }
        };
        let restricted: Vec<&str> =
            WABA_RESTRICTED_FIELDS.iter().copied().filter(|f| spec.contains(f)).collect();
        let core = restricted.iter().fold(spec.clone(), |spec, field| spec.without(field));
        let Ok(mut wabas) = self.read_wabas_with(ids, &core, how).await else {
            return Err(refusal);
        };
        let mut refused = Vec::new();
        for field in restricted {
            match self.read_wabas_with(ids, &FieldSpec::new(&["id", field]), how).await {
                Ok(parts) => {
                    for (id, part) in parts {
                        if let Some(waba) = wabas.get_mut(&id) {
                            waba.take_field(part, field);
                        }
                    }
                }
                Err(error) if error.class() == ErrorClass::Permission => refused.push(field.to_owned()),
                Err(error) => return Err(error),
            }
        }
        if !refused.is_empty() {
            self.log(
                Level::Warn,
                "graph_field_refused",
                &format!(
                    "Graph refused {} to this app; reading the WABAs without {} (checks that need them will say unknown)",
                    refused.join(", "),
                    if refused.len() == 1 { "it" } else { "them" }
                ),
                json!({"fields": refused}),
            );
            for waba in wabas.values_mut() {
                waba.refused_fields = refused.clone();
            }
        }
        Ok(wabas)
    }

    async fn read_wabas_with(
        &self,
        ids: &[String],
        spec: &FieldSpec,
        how: WabaRead,
    ) -> Result<BTreeMap<String, Waba>, GraphError> {
        match (how, ids) {
            (WabaRead::Node, [id]) => {
                let waba = self.get_node::<Waba>(id, &spec.to_string()).await?;
                Ok(BTreeMap::from([(id.clone(), waba)]))
            }
            _ => self.get_many::<Waba>(ids, &spec.to_string()).await,
        }
    }

    async fn complete_waba(&self, waba: &mut Waba) -> Result<(), GraphError> {
        if let Some(edge) = waba.phone_numbers.as_mut() {
            self.complete_edge(edge).await?;
        }
        if let Some(edge) = waba.subscribed_apps.as_mut() {
            self.complete_edge(edge).await?;
        }
        if let Some(edge) = waba.message_templates.as_mut() {
            self.complete_edge(edge).await?;
        }
        Ok(())
    }

    pub async fn phone_number(&self, id: &str) -> Result<PhoneNumber, GraphError> {
        check_id(id, "phone number id")?;
        let mut spec = self.known_fields(phone_number_fields());
        loop {
            match self.get_node::<PhoneNumber>(id, &spec.to_string()).await {
                Ok(number) => return Ok(number),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    pub async fn phone_numbers_by_id(
        &self,
        ids: &[impl AsRef<str>],
    ) -> Result<BTreeMap<String, PhoneNumber>, GraphError> {
        let mut spec = self.known_fields(phone_number_fields());
        loop {
            match self.get_many::<PhoneNumber>(ids, &spec.to_string()).await {
                Ok(numbers) => return Ok(numbers),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// `GET /{waba}/phone_numbers`, every page.
    pub async fn phone_numbers(&self, waba: &str) -> Result<Vec<PhoneNumber>, GraphError> {
        check_id(waba, "WABA id")?;
        let mut spec = self.known_fields(phone_number_fields());
        let path = format!("{waba}/phone_numbers");
        loop {
            match self.get_edge_all::<PhoneNumber>(&path, &spec.to_string(), Some(EDGE_PAGE_LIMIT)).await {
                Ok(numbers) => return Ok(numbers),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// `GET /{waba}/subscribed_apps`: empty means no app receives this WABA's webhooks.
    pub async fn subscribed_apps(&self, waba: &str) -> Result<Vec<SubscribedApp>, GraphError> {
        check_id(waba, "WABA id")?;
        self.get_edge_all(&format!("{waba}/subscribed_apps"), &subscribed_app_fields().to_string(), None)
            .await
    }

    /// `GET /{waba}/message_templates`, every page.
    pub async fn message_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        check_id(waba, "WABA id")?;
        let mut spec = self.known_fields(message_template_fields());
        let path = format!("{waba}/message_templates");
        loop {
            match self.get_edge_all::<MessageTemplate>(&path, &spec.to_string(), Some(EDGE_PAGE_LIMIT)).await
            {
                Ok(templates) => return Ok(templates),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// What the token may do: `debug_token` on the token itself, else (when Graph refuses
    /// that) the granted permissions from `GET /me/permissions`.
    ///
    /// debug_token takes the inspected token as `input_token`, and the only documented way to
    /// send it is a query string. So that the token never appears in a URL, the call goes
    /// through Graph's batch endpoint: `POST /{version}/` with the GET in the form body.
    pub async fn token_info(&self) -> Result<TokenInfo, GraphError> {
        match self.debug_token().await {
            Ok(Ok(info)) => Ok(info),
            // The batch request itself failed on the token, the proof or the network:
            // `/me/permissions` would fail the same way, so say so once.
            Err(e)
                if e.is_retryable_read()
                    || matches!(e.class(), ErrorClass::Auth | ErrorClass::AppSecretProof) =>
            {
                Err(e)
            }
            Err(e) | Ok(Err(e)) => {
                self.log(
                    Level::Debug,
                    "graph_token_info_fallback",
                    &format!("debug_token refused ({}); reading /me/permissions instead", e.class().name()),
                    json!({"class": e.class().name()}),
                );
                let entries: Vec<PermissionEntry> = self.get_edge_all("me/permissions", "", None).await?;
                Ok(TokenInfo::from_permissions(entries))
            }
        }
    }

    /// The outer error is the batch request's own; the inner one is debug_token's answer
    /// inside the batch (or a batch answer that is not one).
    async fn debug_token(&self) -> Result<Result<TokenInfo, GraphError>, GraphError> {
        let mut relative = Url::parse("http://relative/debug_token")
            .map_err(|e| GraphError::config(format!("cannot build a URL: {e}"), "please report this bug"))?;
        relative.query_pairs_mut().append_pair("input_token", self.inner.token.expose());
        let relative_url = format!("debug_token?{}", relative.query().unwrap_or_default());
        let batch = json!([{"method": "GET", "relative_url": relative_url}]).to_string();
        let call = Call {
            method: Method::POST,
            url: self.inner.api_root.clone(),
            params: vec![("include_headers".into(), "false".into())],
            secret_params: vec![("batch", Secret::new(batch))],
            // A batch of GETs changes nothing, so it may be retried like a read.
            op: Operation::Read,
            purpose: Some("batch: GET debug_token".to_owned()),
        };
        let value = self.execute(&call).await?;
        Ok(self.debug_token_answer(value, &call))
    }

    fn debug_token_answer(&self, value: Value, call: &Call) -> Result<TokenInfo, GraphError> {
        let info = RequestInfo {
            method: "GET".into(),
            path: format!("{}debug_token", self.inner.api_root.path()),
            op: Operation::Read,
            node_id: None,
        };
        let first = value.as_array().and_then(|items| items.first()).cloned();
        let Some(Value::Object(item)) = first else {
            return Err(GraphError::invalid_response(
                Some(info),
                None,
                "the batch answer holds no result for debug_token".into(),
            ));
        };
        let status =
            item.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(0);
        let body = match item.get("body") {
            Some(Value::String(body)) => body.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let scrub = |text: &str| self.scrub_text(text, call);
        if !(200..300).contains(&status) {
            return Err(GraphError::from_response(info, status, body.as_bytes(), &scrub));
        }
        let parsed: Value = serde_json::from_str(&body).map_err(|_| {
            GraphError::invalid_response(
                Some(info.clone()),
                Some(status),
                format!(
                    "debug_token answered with a body that is not JSON: {}",
                    excerpt(body.as_bytes(), &scrub)
                ),
            )
        })?;
        if parsed.get("error").is_some() {
            return Err(GraphError::from_response(info, status, body.as_bytes(), &scrub));
        }
        let data: DebugTokenData =
            parsed.get("data").cloned().and_then(|d| serde_json::from_value(d).ok()).ok_or_else(|| {
                GraphError::invalid_response(
                    Some(info),
                    Some(status),
                    "debug_token answered without `data`".into(),
                )
            })?;
        Ok(TokenInfo::from_debug_token(data))
    }
}

/// A concurrent read that panicked or was cancelled: a bug, not a Graph answer.
fn task_stopped(what: &str, join_error: &tokio::task::JoinError) -> GraphError {
    GraphError::local(
        ErrorClass::InvalidResponse,
        format!("{what} stopped unexpectedly: {join_error}"),
        "run the command again; please report it if it repeats",
    )
}

/// Whether any expanded edge of a WABA has a next page to follow.
fn waba_has_more_pages(waba: &Waba) -> bool {
    waba.phone_numbers.as_ref().is_some_and(|e| e.next().is_some())
        || waba.subscribed_apps.as_ref().is_some_and(|e| e.next().is_some())
        || waba.message_templates.as_ref().is_some_and(|e| e.next().is_some())
}
