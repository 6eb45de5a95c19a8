//! The VectorIndex adapters held to one behaviour: the embedded engine always,
//! a Qdrant server too when XIAOER_TEST_QDRANT_URL (or QDRANT_URL) names one.

use std::sync::Arc;
use xiaoer::retrieval::edge::EdgeIndex;
use xiaoer::retrieval::index::*;
use xiaoer::retrieval::lexical::Segmenter;
use xiaoer::retrieval::remote::RemoteIndex;

const DIM: usize = 8;

fn unit(seed: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM)
        .map(|i| {
            (((seed * 31 + i * 17) % 13) as f32 - 6.0) + if i == seed % DIM { 9.0 } else { 0.0 }
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn point(
    seg: &Segmenter,
    entry: &str,
    slot: usize,
    text: &str,
    category: &str,
    valid: (i64, i64),
) -> IndexPoint {
    IndexPoint {
        id: point_id(entry, slot),
        dense: unit(slot + entry.len() * 3),
        sparse: seg.document_vector(text),
        payload: PointPayload {
            entry_id: entry.into(),
            kind: if slot == 0 {
                PointKind::Question
            } else {
                PointKind::Answer
            },
            category: vec![category.split('/').next().unwrap().into(), category.into()],
            locale: "zh".into(),
            products: vec![],
            valid_from: valid.0,
            valid_to: valid.1,
        },
    }
}

async fn conformance(index: Arc<dyn VectorIndex>) {
    let seg = Segmenter::default();
    index.clear().await.unwrap();
    let always = (OPEN_PAST, OPEN_FUTURE);
    index
        .upsert(vec![
            point(&seg, "returns", 0, "七天无理由退货", "售后/退货", always),
            point(
                &seg,
                "returns",
                1,
                "签收后七天内可以退货",
                "售后/退货",
                always,
            ),
            point(&seg, "invoice", 0, "怎么开发票", "售后/发票", always),
            point(&seg, "promo", 0, "双十一满减活动", "活动", (100, 200)),
        ])
        .await
        .unwrap();
    assert_eq!(index.count().await.unwrap(), 4);

    let search = |dense: Option<Vec<f32>>, text: Option<&str>, filter: IndexFilter| IndexQuery {
        dense,
        sparse: text.map(|t| seg.query_vector(t)),
        filter,
        limit: 10,
        mode: SearchMode::Exact,
    };
    let r = index
        .search(search(None, Some("退货"), IndexFilter::default()))
        .await
        .unwrap();
    assert!(r.dense.is_empty());
    assert_eq!(r.sparse[0].entry_id, "returns");
    assert!(r.sparse.iter().all(|h| h.entry_id == "returns"));

    let r = index
        .search(search(Some(unit(5 * 3)), None, IndexFilter::default()))
        .await
        .unwrap();
    assert_eq!(r.dense.len(), 4);
    assert_eq!(r.dense[0].entry_id, "promo");
    assert!((r.dense[0].score - 1.0).abs() < 1e-4);

    // A parent category matches its children; validity is by day number.
    let f = IndexFilter {
        category: Some("售后".into()),
        ..Default::default()
    };
    let r = index.search(search(Some(unit(1)), None, f)).await.unwrap();
    assert_eq!(r.dense.len(), 3);
    let f = IndexFilter {
        day: Some(250),
        ..Default::default()
    };
    let r = index.search(search(Some(unit(1)), None, f)).await.unwrap();
    assert!(r.dense.iter().all(|h| h.entry_id != "promo"));
    let f = IndexFilter {
        day: Some(150),
        ..Default::default()
    };
    let r = index.search(search(Some(unit(1)), None, f)).await.unwrap();
    assert!(r.dense.iter().any(|h| h.entry_id == "promo"));

    let questions = index.vectors(PointKind::Question).await.unwrap();
    assert_eq!(questions.len(), 3);
    // Both vectors come back as stored: the classifier trains on them.
    let returns = questions
        .iter()
        .find(|q| q.entry_id == "returns")
        .expect("the returns question");
    let stored = point(&seg, "returns", 0, "七天无理由退货", "售后/退货", always);
    assert_eq!(returns.sparse, stored.sparse);
    let cosine: f32 = returns
        .dense
        .iter()
        .zip(&stored.dense)
        .map(|(a, b)| a * b)
        .sum();
    assert!(cosine > 0.999, "{cosine}");

    index.delete_entry("returns").await.unwrap();
    assert_eq!(index.count().await.unwrap(), 2);
    let r = index
        .search(search(None, Some("退货"), IndexFilter::default()))
        .await
        .unwrap();
    assert!(r.sparse.is_empty());
    index.clear().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 0);
}

#[tokio::test]
async fn embedded_index_meets_the_adapter_contract_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(EdgeIndex::open(&dir.path().join("index"), DIM).unwrap());
    conformance(index.clone()).await;

    let seg = Segmenter::default();
    index
        .upsert(vec![point(
            &seg,
            "returns",
            0,
            "七天无理由退货",
            "售后/退货",
            (OPEN_PAST, OPEN_FUTURE),
        )])
        .await
        .unwrap();
    index.optimize().await.unwrap();
    drop(index);
    let reopened = EdgeIndex::open(&dir.path().join("index"), DIM).unwrap();
    assert_eq!(reopened.count().await.unwrap(), 1);
    let q = IndexQuery {
        dense: None,
        sparse: Some(seg.query_vector("退货")),
        filter: IndexFilter::default(),
        limit: 5,
        mode: SearchMode::Exact,
    };
    assert_eq!(
        reopened.search(q).await.unwrap().sparse[0].entry_id,
        "returns"
    );
}

#[tokio::test]
async fn remote_index_meets_the_adapter_contract_when_a_server_is_reachable() {
    let Some(url) = ["XIAOER_TEST_QDRANT_URL", "QDRANT_URL"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok())
    else {
        eprintln!(
            "XIAOER_TEST_QDRANT_URL not set: the remote adapter is tested only against a \
             running Qdrant server (scripts/test.sh starts one when ../shared/qdrant has it)"
        );
        return;
    };
    let collection = format!("xiaoer_test_{}", uuid::Uuid::new_v4().simple());
    let index = Arc::new(RemoteIndex::connect(&url, &collection, DIM).await.unwrap());
    conformance(index).await;
}

/// Several nodes on one embedded index would each write it behind the others'
/// backs: the second opener of a directory is refused, and the directory is free
/// again once the first closes it.
#[tokio::test]
async fn a_second_opener_of_one_embedded_index_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let first = EdgeIndex::open(&path, DIM).unwrap();
    let Err(err) = EdgeIndex::open(&path, DIM) else {
        panic!("a second opener of one index directory must be refused");
    };
    assert!(
        err.to_string().contains("in use"),
        "the error says why: {err}"
    );
    drop(first);
    EdgeIndex::open(&path, DIM).expect("free again after the first closed it");
}

/// A managed Qdrant's API key must never cross the network in clear.
#[tokio::test]
async fn a_qdrant_api_key_is_refused_over_plain_http() {
    let Err(err) =
        RemoteIndex::connect_with_key("http://127.0.0.1:9", Some("secret-key"), "kb", DIM).await
    else {
        panic!("an API key over http:// must be refused");
    };
    assert!(err.to_string().contains("TLS"), "{err}");
}
