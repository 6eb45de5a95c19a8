//! Use cases over the domain and the ports.

pub mod analytics;
pub mod attachments;
pub mod audit;
pub mod bell;
pub mod blocks;
pub mod bot;
pub mod catalogue; // product cards
pub mod challenge;
pub mod channels;
pub mod chat;
pub mod conversations;
pub mod conversion;
pub mod coupons; // coupon cards and claims (issue 18)
pub mod events;
pub mod followups;
pub mod history;
pub mod hub;
pub mod inbox;
pub mod keys; // data key rotation and background re-sealing
pub mod knowledge;
pub mod live;
pub mod orders;
pub mod portrait; // the buyer profile beside a chat (issue 18)
pub mod presence; // who is on the shop now, invitations
pub mod privacy;
pub mod product_index; // the catalogue's e5 vectors and nearest products by content
pub mod qa_sampler; // plans that sample the day before by themselves
pub mod quality; // 质检 (issue 17)
pub mod quality_drafts; // the model's draft scores of reviews
pub mod queue_alerts; // supervisors told when a queue passes its thresholds
pub mod quick_replies;
pub mod recommend; // item-to-item product recommendations
pub mod routing;
pub mod saved_reports;
pub mod sender; // a message screened (a buyer's text), then sent
pub mod shop;
pub mod skill_groups;
pub mod staff;
pub mod subscribers;
pub mod ticket_admin;
pub mod ticket_automations;
pub mod ticket_board;
pub mod ticket_buyer;
pub mod ticket_events;
pub mod ticket_files;
pub mod ticket_mail;
pub mod ticket_merge;
pub mod ticket_routing;
pub mod ticket_views;
pub mod tickets;
pub mod topics; // what a chat is about, told to analytics
pub mod totp;
pub mod unanswered;
pub mod visitors;
pub mod webhooks;
pub mod wordings;

/// The import graph's rules for services, checked on the source: no service
/// reaches into HTTP, and a service speaks to storage only through the
/// repository ports (`ports::repositories`) and the vector index port, except
/// the ones listed here, which still take `Store` or storage rows and leave the
/// list as they move onto ports. A file that no longer needs its entry must be
/// taken off, so the list only shrinks.
/// Runs `tick` every `period` until shutdown; a failed tick is logged (as
/// `what`) and the next one tried.
pub(crate) async fn every<T, E, F, Fut>(
    period: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    what: &'static str,
    mut tick: F,
) where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(error) = tick().await {
            tracing::warn!(%error, "{what} failed");
        }
    }
}

/// A background worker's loop: runs `step` until shutdown. A step that
/// returns a wait is followed by that pause, which `wake` cuts short; one
/// that returns none (more work at hand) by the next step at once.
pub(crate) async fn work_until_shutdown<F, Fut>(
    wake: &tokio::sync::Notify,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<std::time::Duration>>,
{
    loop {
        if let Some(wait) = step().await {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod import_graph {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("services dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn services_reach_storage_only_through_ports_and_never_http() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services");
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 50, "{} service files", files.len());
        let mut on_store = Vec::new();
        for file in &files {
            let name = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(file).unwrap();
            // This module's own test names storage in prose only.
            let code = text.split("mod import_graph").next().unwrap();
            assert!(!code.contains("crate::http"), "{name} imports http");
            if code.contains("crate::storage") || code.contains("sqlx::") {
                on_store.push(name);
            }
        }
        on_store.sort();
        assert!(
            on_store.is_empty(),
            "services that import storage or sqlx (use a repository port): {on_store:?}"
        );
    }
}
