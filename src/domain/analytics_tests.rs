//! The metric definitions against a small hand-computed fixture.

use super::*;
use crate::domain::events::{AssignedBy, EventData};

const T0: i64 = 1_764_464_400_000; // 2025-11-30 01:00 UTC = 09:00 in UTC+8
const MIN: i64 = 60_000;

fn started() -> EventData {
    EventData::ConversationStarted {
        visitor_id: "v".into(),
        channel: "web".into(),
    }
}

fn msg(kind: &str) -> EventData {
    EventData::MessagePosted {
        sender_kind: kind.into(),
        sender_id: None,
    }
}

fn assigned(agent: &str) -> EventData {
    EventData::Assigned {
        agent_id: agent.into(),
        by: AssignedBy::Claim,
    }
}

fn fold(events: &[(i64, EventData)], reason: Option<&str>) -> Facts {
    let mut f = Facts::default();
    for (at, e) in events {
        f.apply(T0 + at, e, reason, &local_day(T0 + at, 480));
    }
    f
}

/// A: the bot answers 4 questions (welcome not counted), the buyer hands
/// off (consulted), waits 2 min, agent a answers after 1 min, the buyer asks
/// again, a answers 30 s later, resolves at 10 min, CSAT 5.
fn conversation_a() -> Facts {
    let mut events = vec![(0, started()), (0, msg("bot"))];
    for _ in 0..4 {
        events.push((0, msg("buyer")));
        events.push((0, msg("bot")));
    }
    events.extend([
        (MIN, EventData::HandedOff { packet_id: None }),
        (MIN, msg("buyer")),
        (3 * MIN, assigned("a")),
        (4 * MIN, msg("agent")),
        (5 * MIN, msg("buyer")),
        (5 * MIN + 30_000, msg("agent")),
        (
            10 * MIN,
            EventData::Resolved {
                agent_id: Some("a".into()),
            },
        ),
        (11 * MIN, EventData::CsatRated { stars: 5 }),
    ]);
    fold(&events, None)
}

/// B: one bot answer, handed off directly by the bot (low confidence), 4 min
/// in the queue, agent a takes it and transfers to b at 6 min; b answers at
/// 7 min, resolves at 8 min; the buyer reopens 2 h later; CSAT 2.
fn conversation_b() -> Facts {
    fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (0, msg("bot")),
            (0, msg("buyer")),
            (
                MIN,
                EventData::HandedOff {
                    packet_id: Some("p".into()),
                },
            ),
            (5 * MIN, assigned("a")),
            (
                6 * MIN,
                EventData::Transferred {
                    from_agent_id: "a".into(),
                    to_agent_id: "b".into(),
                },
            ),
            (7 * MIN, msg("agent")),
            (
                8 * MIN,
                EventData::Resolved {
                    agent_id: Some("b".into()),
                },
            ),
            (128 * MIN, EventData::Reopened),
            (129 * MIN, EventData::CsatRated { stars: 2 }),
        ],
        Some("low_confidence"),
    )
}

/// C: bot only, two answers, one rated helpful and then unhelpful (the last
/// vote counts), another helpful; CSAT 4 after the bot resolved it.
fn conversation_c() -> Facts {
    fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (0, msg("bot")),
            (0, msg("buyer")),
            (0, msg("bot")),
            (
                MIN,
                EventData::Rated {
                    seq: 3,
                    helpful: true,
                },
            ),
            (
                MIN,
                EventData::Rated {
                    seq: 3,
                    helpful: false,
                },
            ),
            (
                MIN,
                EventData::Rated {
                    seq: 5,
                    helpful: true,
                },
            ),
            (2 * MIN, EventData::Resolved { agent_id: None }),
            (3 * MIN, EventData::CsatRated { stars: 4 }),
        ],
        None,
    )
}

/// D: the buyer hands off at once and gives up after 7 min in the queue.
fn conversation_d() -> Facts {
    fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (0, EventData::HandedOff { packet_id: None }),
            (7 * MIN, EventData::Closed),
        ],
        None,
    )
}

fn totals(facts: &[Facts]) -> Totals {
    let mut t = Totals::default();
    for f in facts {
        for (counter, v) in contribution(f).1 {
            t.add(&counter, v);
        }
        t.queue_waits.extend(f.queue_wait_ms());
    }
    t.queue_waits.sort_unstable();
    t
}

fn metric(t: &Totals, key: &str) -> Option<f64> {
    t.metric(metric_def(key).unwrap())
}

#[test]
fn each_conversation_folds_into_the_facts_worked_out_by_hand() {
    let a = conversation_a();
    assert_eq!(a.bot_turns_before_handoff, 4, "the welcome answers nobody");
    assert_eq!(a.queue_wait_ms(), Some(2 * MIN));
    assert_eq!(a.first_response_at, Some(T0 + 4 * MIN));
    // Pending since the buyer's message at 1 min, counted from assignment (3
    // min) to the reply (4 min): 60 s; then 30 s.
    assert_eq!((a.responses, a.response_ms_sum), (2, 90_000));
    assert_eq!(a.day, "2025-11-30");
    let b = conversation_b();
    assert_eq!(b.bot_turns_before_handoff, 1);
    assert_eq!(b.handoff_reason.as_deref(), Some("low_confidence"));
    assert_eq!(
        b.agent_id.as_deref(),
        Some("b"),
        "counted for the last agent"
    );
    assert!(b.reopened_within_24h);
    // The buyer's message before the hand-off is the bot's, not a person's.
    assert_eq!(b.responses, 0);
    let d = conversation_d();
    assert!(d.abandoned());
    assert_eq!(d.queue_wait_ms(), None);
}

#[test]
fn the_metrics_of_the_fixture_are_the_hand_computed_values() {
    let t = totals(&[
        conversation_a(),
        conversation_b(),
        conversation_c(),
        conversation_d(),
    ]);
    let v = |k| metric(&t, k);
    assert_eq!(v("conversations"), Some(4.0));
    assert_eq!(v("engaged"), Some(4.0));
    // A: 6 buyer + 5 bot (welcome included) + 2 agent; B: 2+1+1; C: 2+2; D: 1.
    assert_eq!(v("messages"), Some(22.0));
    // Only C stayed with the bot and was not reopened: 1 of 4 engaged.
    assert_eq!(v("self_service_rate"), Some(0.25));
    assert_eq!(v("handoffs"), Some(3.0));
    assert_eq!(v("handoff_rate"), Some(0.75));
    assert_eq!(v("handoff_direct"), Some(2.0)); // B (1 turn), D (0)
    assert_eq!(v("handoff_consulted"), Some(1.0)); // A (4 turns)
    assert_eq!(
        t.handoff_reasons(),
        BTreeMap::from([("buyer_request".into(), 2), ("low_confidence".into(), 1)])
    );
    assert_eq!(v("assigned"), Some(2.0));
    assert_eq!(v("queue_wait_avg_ms"), Some(3.0 * MIN as f64)); // (2 + 4) / 2 min
    assert_eq!(v("queue_wait_p50_ms"), Some(2.0 * MIN as f64));
    assert_eq!(v("queue_wait_p90_ms"), Some(4.0 * MIN as f64));
    assert_eq!(v("abandoned"), Some(1.0));
    assert_eq!(v("abandonment_rate"), Some(1.0 / 3.0));
    // First responses: A 1 min after assignment, B 2 min (a took it at 5, b answered at 7).
    assert_eq!(v("first_response_avg_ms"), Some(1.5 * MIN as f64));
    assert_eq!(v("response_avg_ms"), Some(45_000.0));
    // Handle: A 3→10 min = 7, B 5→8 = 3.
    assert_eq!(v("handle_avg_ms"), Some(5.0 * MIN as f64));
    assert_eq!(v("resolution_rate"), Some(1.0));
    assert_eq!(v("transfer_rate"), Some(0.5));
    assert_eq!(v("reopen_rate"), Some(0.5));
    assert_eq!(v("csat_count"), Some(3.0));
    assert_eq!(v("csat_avg"), Some(11.0 / 3.0));
    assert_eq!(v("csat_satisfaction_rate"), Some(2.0 / 3.0));
    assert_eq!(v("csat_human_avg"), Some(3.5));
    assert_eq!(v("csat_bot_avg"), Some(4.0));
    assert_eq!(v("answer_helpful_rate"), Some(0.5));
}

#[test]
fn folding_twice_from_the_stored_facts_gives_the_same_contribution() {
    let a = conversation_a();
    let json = serde_json::to_string(&a).unwrap();
    let back: Facts = serde_json::from_str(&json).unwrap();
    assert_eq!(contribution(&back), contribution(&a));
}

#[test]
fn a_reopen_after_a_day_is_no_reopen() {
    let f = fold(
        &[
            (0, started()),
            (0, EventData::HandedOff { packet_id: None }),
            (MIN, assigned("a")),
            (
                2 * MIN,
                EventData::Resolved {
                    agent_id: Some("a".into()),
                },
            ),
            (2 * MIN + DAY_MS + 1, EventData::Reopened),
        ],
        None,
    );
    assert!(!f.reopened_within_24h);
}

#[test]
fn days_weeks_and_months_are_shop_local() {
    // 2025-11-30 16:30 UTC is already Dec 1 in UTC+8.
    assert_eq!(local_day(1_764_520_200_000, 480), "2025-12-01");
    assert_eq!(local_day(1_764_520_200_000, 0), "2025-11-30");
    let d = parse_day("2026-12-02").unwrap();
    let week = DayRange::period(Period::Week, d);
    assert_eq!(
        (week.from.to_string(), week.to.to_string()),
        ("2026-11-30".into(), "2026-12-06".into())
    );
    let month = DayRange::period(Period::Month, d);
    assert_eq!(month.to.to_string(), "2026-12-31");
    assert_eq!(Dimension::Week.bucket("2026-12-06"), "2026-11-30");
    assert_eq!(Dimension::Month.bucket("2026-12-06"), "2026-12");
}

#[test]
fn percentiles_are_nearest_rank() {
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(percentile(&[5], 90), Some(5));
    assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    assert_eq!(percentile(&[1, 2, 3, 4], 90), Some(4));
}

#[test]
fn report_inputs_are_parsed_at_the_edge() {
    assert!(parse_metrics("conversations,nope").is_err());
    assert_eq!(parse_metrics("csat_avg, csat_avg").unwrap().len(), 1);
    assert!(DayRange::parse("2026-12-02", "2026-12-01").is_err());
    assert!(Dimension::parse("minute").is_err());
    assert!(CsatRating::parse(0, vec![], None).is_err());
    assert!(CsatRating::parse(6, vec![], None).is_err());
    let r = CsatRating::parse(5, vec![" 快 ".into()], Some("  ".into())).unwrap();
    assert_eq!(
        (r.stars, r.tags, r.comment),
        (5, vec!["快".to_string()], None)
    );
}

#[test]
fn a_report_groups_by_one_dimension_or_a_pair_of_different_ones() {
    assert_eq!(Dimension::parse_pair("day"), Ok((Dimension::Day, None)));
    assert_eq!(
        Dimension::parse_pair("agent,day"),
        Ok((Dimension::Agent, Some(Dimension::Day)))
    );
    assert_eq!(
        Dimension::parse_pair("week, channel"),
        Ok((Dimension::Week, Some(Dimension::Channel)))
    );
    for bad in [
        "agent,agent",
        "day,week",
        "month,day",
        "agent,day,channel",
        "agent,",
        "nope,day",
        "",
    ] {
        assert_eq!(
            Dimension::parse_pair(bad),
            Err(ReportInputError::BadDimension),
            "{bad}"
        );
    }
    assert_eq!(Dimension::Group.name(), "group");
    assert_eq!(
        Dimension::parse_pair("source,day"),
        Ok((Dimension::Source, Some(Dimension::Day)))
    );
    assert_eq!(Dimension::Source.name(), "source");
}

#[test]
fn a_chat_counts_in_the_hour_it_started_for_the_hourly_metrics_only() {
    // 23:30 UTC is 07:30 the next day in UTC+8, and 23:30 in UTC.
    let at = 1_764_545_400_000; // 2025-11-30 23:30 UTC
    assert_eq!(local_hour(at, 480), 7);
    assert_eq!(local_hour(at, 0), 23);
    assert_eq!(local_hour(at, -60), 22);
    let mut f = conversation_a();
    assert_eq!(hourly_contribution(&f), None, "facts from before the hour");
    f.start_hour = Some(9);
    let (key, hour, counters) = hourly_contribution(&f).unwrap();
    assert_eq!(hour, "09");
    assert_eq!(
        key,
        RollupKey {
            source: String::new(),
            ..contribution(&f).0
        }
    );
    let names: Vec<&str> = counters.keys().map(String::as_str).collect();
    assert!(
        names.iter().all(|n| HOURLY_COUNTERS.contains(n)),
        "{names:?}"
    );
    assert_eq!(counters.get("conversations"), Some(&1));
    let by_hour = |key: &str| METRICS.iter().find(|m| m.key == key).unwrap().by_hour();
    assert!(by_hour("conversations") && by_hour("handoff_rate") && by_hour("handoffs"));
    assert!(!by_hour("csat_avg") && !by_hour("queue_wait_p50_ms") && !by_hour("messages"));
    assert_eq!(
        Dimension::parse_pair("agent,hour"),
        Ok((Dimension::Agent, Some(Dimension::Hour)))
    );
    assert_eq!(
        Dimension::parse_pair("day,hour"),
        Err(ReportInputError::BadDimension)
    );
}

#[test]
fn a_chat_counts_under_the_source_of_the_visit_it_was_opened_from() {
    let mut f = conversation_a();
    assert_eq!(contribution(&f).0.source, "", "not from a visit");
    f.apply(
        T0 + 30 * MIN,
        &EventData::ConversationAttributed {
            visit_id: "v1".into(),
            source: Source::Ads,
            pages_before: 2,
            campaign: Some("双12".into()),
        },
        None,
        "2025-11-30",
    );
    let (key, counters) = contribution(&f);
    assert_eq!(key.source, "ads");
    assert_eq!(counters.get("src_chats:ads"), Some(&1));
    assert_eq!(counters.get("campaign_chats:双12"), Some(&1));
    // A second attribution changes nothing: a chat has one source.
    f.apply(
        T0 + 31 * MIN,
        &EventData::ConversationAttributed {
            visit_id: "v2".into(),
            source: Source::Search,
            pages_before: 1,
            campaign: None,
        },
        None,
        "2025-11-30",
    );
    assert_eq!(contribution(&f).0.source, "ads");
    assert_eq!(parse_source_filter("none"), Ok(String::new()));
    assert_eq!(parse_source_filter(" search "), Ok("search".to_owned()));
    for bad in ["", "Search", "weibo", "src"] {
        assert_eq!(
            parse_source_filter(bad),
            Err(ReportInputError::BadSource),
            "{bad}"
        );
    }
}

#[test]
fn an_order_converts_within_24_hours_or_by_the_end_of_the_next_shop_day() {
    const H: i64 = 60 * MIN;
    // T0 is 09:00 on 2025-11-30 in UTC+8; the next day ends at 00:00 on
    // 2025-12-02 local = T0 + 39 h.
    assert_eq!(conversion_deadline(T0, 480), T0 + 39 * H);
    let both = Some(ConversionWindows {
        within_24h: true,
        by_next_day: true,
    });
    let next_day_only = Some(ConversionWindows {
        within_24h: false,
        by_next_day: true,
    });
    assert_eq!(conversion(T0, T0 + 30 * MIN, 480), both);
    assert_eq!(conversion(T0, T0 + 24 * H, 480), both, "24 h is inside");
    assert_eq!(conversion(T0, T0 + 24 * H + 1, 480), next_day_only);
    assert_eq!(conversion(T0, T0 + 39 * H - 1, 480), next_day_only);
    assert_eq!(conversion(T0, T0 + 39 * H, 480), None, "the day after next");
    assert_eq!(conversion(T0, T0 - 1, 480), None, "bought before asking");
    // A question at 23:30 local: 24 h reach 23:30 the next day, the next day
    // ends half an hour later.
    let late = T0 + 14 * H + 30 * MIN;
    assert_eq!(local_day(late, 480), "2025-11-30");
    assert_eq!(conversion_deadline(late, 480), late + 24 * H + 30 * MIN);
    assert_eq!(
        conversion(late, late + 24 * H + 10 * MIN, 480),
        next_day_only
    );
    // The same instant in UTC (offset 0) is 15:30 on 11-30: the day ends at
    // 00:00 on 12-02 UTC.
    assert_eq!(conversion_deadline(late, 0), late + 32 * H + 30 * MIN);
}

#[test]
fn a_converted_chat_counts_once_for_the_question_it_answered() {
    let converted = |placed: i64, within_24h: bool, cents: i64| EventData::Converted {
        placed_at: T0 + placed,
        total_cents: cents,
        within_24h,
        by_next_day: true,
    };
    // C asked at 0 and bought within the day; a second report changes nothing.
    let mut events = vec![(0, started()), (0, msg("bot")), (MIN, msg("buyer"))];
    events.push((90 * MIN, converted(80 * MIN, true, 19_900)));
    events.push((100 * MIN, converted(95 * MIN, false, 5_000)));
    let c = fold(&events, None);
    assert_eq!(c.first_buyer_at, Some(T0 + MIN));
    assert_eq!(c.converted_cents, Some(19_900));
    // D asked and bought the day after (next day only); E never wrote.
    let d = fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (30 * 60 * MIN, converted(28 * 60 * MIN, false, 8_900)),
        ],
        None,
    );
    let e = fold(&[(0, started()), (0, msg("bot"))], None);
    let t = totals(&[c, d, e, conversation_a()]);
    let v = |k| metric(&t, k);
    assert_eq!(v("inquiries"), Some(3.0), "C, D and A asked; E did not");
    assert_eq!(v("converted_24h"), Some(1.0));
    assert_eq!(v("conversion_rate_24h"), Some(1.0 / 3.0));
    assert_eq!(v("converted_next_day"), Some(2.0));
    assert_eq!(v("conversion_rate_next_day"), Some(2.0 / 3.0));
    assert_eq!(v("converted_amount_cents"), Some(28_800.0));
}

fn classified(intent: Option<&str>, category: Option<&str>, product: Option<&str>) -> EventData {
    EventData::ConversationClassified {
        intent: intent.map(str::to_owned),
        category: category.map(str::to_owned),
        product: product.map(str::to_owned),
    }
}

#[test]
fn a_chat_is_about_the_first_of_each_topic_told_and_an_intake_beats_a_generic_intent() {
    let facts = fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (0, msg("bot")),
            // The bot answered from an entry: a question, its category, no product.
            (0, classified(Some("question"), Some("售后/退换货"), None)),
            // A second answer from another entry changes neither.
            (MIN, classified(Some("question"), Some("物流"), None)),
            // An empty or blank value tells nothing; a product card tells one.
            (MIN, classified(Some("  "), Some(""), Some(" TS-001 "))),
            // The intake started: it replaces the generic intent, once.
            (2 * MIN, classified(Some("refund"), None, Some("JK-002"))),
            (3 * MIN, classified(Some("defect"), None, None)),
            (3 * MIN, classified(Some("human"), None, None)),
        ],
        None,
    );
    assert_eq!(
        facts.topic,
        Topic {
            intent: Some("refund".into()),
            category: Some("售后/退换货".into()),
            product: Some("TS-001".into()),
        }
    );
    // A generic intent does not replace another one.
    let mut told = Topic::default();
    let human = Topic {
        intent: Some("human".into()),
        ..Topic::default()
    };
    assert_eq!(told.take(&human), Some(human.clone()));
    let question = Topic {
        intent: Some("question".into()),
        ..Topic::default()
    };
    assert_eq!(told.take(&question), None);
    // Only news comes back; control characters go and a long value is cut.
    let long = "类".repeat(TOPIC_MAX_CHARS + 20);
    let news = told.take(&Topic {
        intent: Some("return_check".into()),
        category: Some(format!("配件\u{7}/{long}")),
        product: None,
    });
    let news = news.unwrap();
    assert_eq!(news.intent.as_deref(), Some("return_check"));
    let category = news.category.unwrap();
    assert!(category.starts_with("配件/"), "{category}");
    assert_eq!(category.chars().count(), TOPIC_MAX_CHARS);
}

#[test]
fn each_topic_kind_adds_up_to_every_conversation_counter_but_the_named_ones() {
    let answered = fold(
        &[
            (0, started()),
            (0, msg("buyer")),
            (0, msg("bot")),
            (0, classified(Some("question"), Some("售后/退换货"), None)),
            (MIN, EventData::HandedOff { packet_id: None }),
        ],
        Some("low_confidence"),
    );
    let (key, all) = contribution(&answered);
    let topics = topic_contribution(&answered);
    assert_eq!(topics.len(), 3);
    let kinds: Vec<(TopicKind, &str)> = topics
        .iter()
        .map(|(_, kind, topic, _)| (*kind, topic.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (TopicKind::Intent, "question"),
            (TopicKind::Category, "售后/退换货"),
            // Not known: counted under '' so that the kind adds up.
            (TopicKind::Product, ""),
        ]
    );
    let kept: Contribution = all
        .iter()
        .filter(|(c, _)| !c.contains(':'))
        .map(|(c, v)| (c.clone(), *v))
        .collect();
    assert!(all.contains_key("handoff_reason:low_confidence"));
    for (day, _, _, counters) in &topics {
        assert_eq!(counters, &kept);
        assert_eq!(day, &key.day);
    }
    assert_eq!(kept["handed_off"], 1);
    assert_eq!(kept["conversations"], 1);
}

#[test]
fn only_conversation_counters_are_reported_by_topic() {
    let by_topic = |k: &str| metric_def(k).unwrap().by_topic();
    for key in [
        "conversations",
        "messages",
        "handoff_rate",
        "csat_avg",
        "answer_helpful_rate",
        "conversion_rate_24h",
        "queue_wait_avg_ms",
    ] {
        assert!(by_topic(key), "{key}");
    }
    for key in [
        "queue_wait_p50_ms",
        "queue_wait_p90_ms",
        "online_time_ms",
        "avg_concurrency",
        "load_rate",
    ] {
        assert!(!by_topic(key), "{key}");
    }
    assert_eq!(Dimension::parse("category"), Ok(Dimension::Category));
    assert_eq!(
        Dimension::parse_pair("product,day"),
        Ok((Dimension::Product, Some(Dimension::Day)))
    );
    assert_eq!(
        Dimension::parse_pair("intent,category"),
        Err(ReportInputError::BadDimension)
    );
    assert_eq!(Dimension::Intent.topic(), Some(TopicKind::Intent));
    assert_eq!(Dimension::Agent.topic(), None);
}
