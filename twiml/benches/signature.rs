//! Validating a typical voice webhook against the bare cost of its HMAC.
//!
//! `bare_hmac_sha1_base64` is the floor any validator pays: one keyed HMAC-SHA1 over the
//! same bytes (URL plus sorted `key`+`value` pairs, concatenated beforehand) and base64 of
//! the result. `validate` does everything the layer does per request: sorts and
//! de-duplicates the parameters, computes the MAC and compares it in constant time.
//! The target is `validate` ≤ 1.5× `bare_hmac_sha1_base64`.

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use twiml::RequestValidator;

const TOKEN: &str = "2bd9e9638872de601313dc77410d3b23";
const URL: &str = "https://ivr.example.com/voice/menu?twimlStep=menu";

/// The parameters Twilio posts to a voice webhook after a speech `<Gather>` (about 600
/// bytes signed).
fn voice_webhook() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AccountSid", "AC25aa00521bfac6d667f13fec086072df"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA7e6b3c8d1f0a4b2c9d8e7f6a5b4c3d2e"),
        ("CallStatus", "in-progress"),
        ("Called", "+14155550199"),
        ("CalledCity", "SAN FRANCISCO"),
        ("CalledCountry", "US"),
        ("CalledState", "CA"),
        ("CalledZip", "94105"),
        ("Caller", "+14155550100"),
        ("CallerCity", "OAKLAND"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94612"),
        ("Digits", "1"),
        ("Direction", "inbound"),
        ("FinishedOnKey", ""),
        ("From", "+14155550100"),
        ("FromCity", "OAKLAND"),
        ("FromCountry", "US"),
        ("FromState", "CA"),
        ("FromZip", "94612"),
        (
            "SpeechResult",
            "I would like to check the status of my order please",
        ),
        ("Confidence", "0.9335"),
        ("To", "+14155550199"),
        ("ToCity", "SAN FRANCISCO"),
        ("ToCountry", "US"),
        ("msg", "Gather End"),
    ]
}

fn bench(c: &mut Criterion) {
    let params = voice_webhook();
    let validator = RequestValidator::new(TOKEN);
    let signature = validator.compute_signature(URL, params.iter().copied());

    let mut sorted = params.clone();
    sorted.sort();
    let mut signed_bytes = URL.to_owned();
    for (k, v) in &sorted {
        signed_bytes.push_str(k);
        signed_bytes.push_str(v);
    }
    eprintln!(
        "signed data: {} bytes, {} parameters",
        signed_bytes.len(),
        params.len()
    );

    let mut group = c.benchmark_group("voice_webhook");
    group.bench_function("bare_hmac_sha1_base64", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha1>::new_from_slice(black_box(TOKEN).as_bytes()).unwrap();
            mac.update(black_box(signed_bytes.as_bytes()));
            STANDARD.encode(mac.finalize().into_bytes())
        })
    });
    group.bench_function("validate", |b| {
        b.iter(|| {
            assert!(validator.validate(
                black_box(URL),
                black_box(&params).iter().copied(),
                black_box(&signature)
            ))
        })
    });
    let mut in_order = params.clone();
    in_order.sort();
    group.bench_function("validate_sorted_params", |b| {
        // Parameters already in byte order, as a form serialised from a sorted map is.
        b.iter(|| {
            assert!(validator.validate(
                black_box(URL),
                black_box(&in_order).iter().copied(),
                black_box(&signature)
            ))
        })
    });
    group.bench_function("validate_forged_all_variants", |b| {
        // A forged signature costs every variant: as given and with `:443`.
        b.iter(|| {
            assert!(!validator.validate(
                black_box(URL),
                black_box(&params).iter().copied(),
                black_box("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            ))
        })
    });
    group.finish();
}

// `criterion_group!` defines an undocumented `pub fn`; kept private, it needs no docs.
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
