//! Contract cases of [`Webhooks`]: the outbox is written with the lead, claimed once, retried, given up on
//! and redelivered.

use super::*;

/// A lead of a calendar with a webhook queues one delivery of `lead.created`, and a status change one of
/// `lead.status_changed`; a lead of another calendar none. A claim holds a delivery until its lease ends;
/// attempts are recorded as delivered, retried or dead; a dead letter is redelivered, a pending one is not.
pub async fn webhook_deliveries_are_queued_with_their_leads_claimed_retried_and_redelivered(
    s: &dyn Storage,
) {
    let (calendar, source) = calendar_and_source(s, "hooked").await;
    let (other, other_source) = calendar_and_source(s, "quiet").await;
    let sealed = Sealed {
        nonce: vec![1; 12],
        ciphertext: vec![2; 40],
    };
    let webhook = ok(
        "create",
        s.create_webhook(&NewWebhook {
            calendar_id: calendar,
            url: "https://crm.example/hook".into(),
            secret: sealed.clone(),
        })
        .await,
    );
    match s
        .create_webhook(&NewWebhook {
            calendar_id: 9_999,
            url: "https://crm.example/hook".into(),
            secret: sealed.clone(),
        })
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("an unknown calendar is NotFound: {other:?}"),
    }
    let listed = ok("list", s.webhooks().await);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].id,
            listed[0].calendar_id,
            listed[0].calendar.as_str()
        ),
        (webhook, calendar, "hooked")
    );

    let t0 = now();
    let lead = file_lead(s, source, contact("Звонок", "+79250000030"), calendar, t0).await;
    file_lead(s, other_source, contact("Тихо", "+79250000031"), other, t0).await;

    let lease = std::time::Duration::from_secs(60);
    let jobs = ok(
        "claim",
        s.claim_webhook_deliveries(t0 + Duration::seconds(1), lease, 10)
            .await,
    );
    assert_eq!(
        jobs.len(),
        1,
        "one delivery, for the hooked calendar's lead"
    );
    let job = &jobs[0];
    assert_eq!(
        (job.webhook_id, job.lead_id, job.event_type, job.attempts),
        (webhook, lead, WebhookEventType::LeadCreated, 1)
    );
    assert_eq!(job.url, "https://crm.example/hook");
    assert_eq!(
        (&job.secret.nonce, &job.secret.ciphertext),
        (&sealed.nonce, &sealed.ciphertext)
    );
    let again = ok(
        "claim again",
        s.claim_webhook_deliveries(t0 + Duration::seconds(2), lease, 10)
            .await,
    );
    assert!(
        again.is_empty(),
        "a claimed delivery is held until its lease ends"
    );
    let lapsed = ok(
        "claim after the lease",
        s.claim_webhook_deliveries(t0 + Duration::seconds(120), lease, 10)
            .await,
    );
    assert_eq!(lapsed.len(), 1);
    assert_eq!((lapsed[0].id, lapsed[0].attempts), (job.id, 2));

    let retry_at = t0 + Duration::seconds(600);
    ok(
        "retry",
        s.record_webhook_attempt(
            job.id,
            &DeliveryAttempt {
                at: t0 + Duration::seconds(121),
                status: Some(503),
                answer: "busy".into(),
                outcome: AttemptOutcome::RetryAt(retry_at),
            },
        )
        .await,
    );
    let view = some("the delivery", ok("read", s.webhook_delivery(job.id).await));
    let of_lead = ok("of lead", s.webhook_deliveries_of_lead(job.lead_id).await);
    assert_eq!(
        of_lead.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![job.id],
        "a lead's timeline shows its deliveries"
    );
    assert_eq!(
        (
            view.state,
            view.attempts,
            view.last_status,
            view.last_answer.as_deref()
        ),
        (DeliveryState::Pending, 2, Some(503), Some("busy"))
    );
    assert_eq!(view.next_attempt_at, Some(retry_at));
    assert!(
        ok(
            "not due",
            s.claim_webhook_deliveries(retry_at - Duration::seconds(1), lease, 10)
                .await
        )
        .is_empty()
    );
    let due = ok("due", s.claim_webhook_deliveries(retry_at, lease, 10).await);
    assert_eq!(due.len(), 1);
    ok(
        "dead",
        s.record_webhook_attempt(
            job.id,
            &DeliveryAttempt {
                at: retry_at,
                status: None,
                answer: "no connection".into(),
                outcome: AttemptOutcome::Dead,
            },
        )
        .await,
    );
    let listed = ok("list", s.webhook(webhook).await);
    assert_eq!(some("the webhook", listed).dead, 1);

    assert!(ok(
        "redeliver",
        s.redeliver_webhook_delivery(job.id, retry_at).await
    ));
    assert!(
        !ok(
            "redeliver pending",
            s.redeliver_webhook_delivery(job.id, retry_at).await
        ),
        "a pending delivery is not queued twice"
    );
    assert!(!ok(
        "redeliver none",
        s.redeliver_webhook_delivery(9_999, retry_at).await
    ));
    let redelivered = ok(
        "claim redelivered",
        s.claim_webhook_deliveries(retry_at, lease, 10).await,
    );
    assert_eq!(redelivered.len(), 1);
    assert_eq!(redelivered[0].retry_since, retry_at);
    ok(
        "delivered",
        s.record_webhook_attempt(
            job.id,
            &DeliveryAttempt {
                at: retry_at,
                status: Some(200),
                answer: "ok".into(),
                outcome: AttemptOutcome::Delivered,
            },
        )
        .await,
    );
    let view = some("the delivery", ok("read", s.webhook_delivery(job.id).await));
    assert_eq!((view.state, view.attempts), (DeliveryState::Delivered, 4));
    assert_eq!(view.delivered_at, Some(retry_at));

    ok(
        "status",
        s.update_lead(
            lead,
            &LeadPatch {
                status: Some(LeadStatus::Done),
                assignee: None,
                by: None,
            },
        )
        .await,
    );
    let log = ok("log", s.webhook_deliveries(webhook, page(1)).await);
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].event_type, WebhookEventType::LeadStatusChanged);
    assert_ne!(log.items[0].event_id, view.event_id);
    let older = ok(
        "older",
        s.webhook_deliveries(webhook, after(&log, 10)).await,
    );
    assert_eq!(older.items.len(), 1);
    assert_eq!(older.items[0].id, job.id);

    assert!(ok("delete", s.delete_webhook(webhook).await));
    assert!(!ok("delete again", s.delete_webhook(webhook).await));
    assert!(ok("gone", s.webhook_delivery(job.id).await).is_none());
    file_lead(s, source, contact("После", "+79250000032"), calendar, t0).await;
    assert!(
        ok(
            "nothing queued",
            s.claim_webhook_deliveries(t0 + Duration::days(1), lease, 10)
                .await
        )
        .is_empty()
    );
}
