//! Rendering a realistic 50-verb IVR document: building and rendering it, and rendering a
//! document built once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_main};
use twiml::PublicBase;
use twiml::voice::{
    Action, Dial, Gather, GatherInput, Hangup, Number, Pause, Play, Record, Redirect, Say,
    VoiceResponse,
};

/// Ten five-verb menu steps: a greeting, a gather with a spoken and a played prompt, a
/// pause and a fallback (redirect, dial, or voicemail, by step).
fn ivr(base: &PublicBase) -> VoiceResponse {
    let mut doc = VoiceResponse::new();
    for step in 0..10 {
        let menu = base.join(&format!("/voice/menu/{step}/")).unwrap();
        doc = doc
            .add(
                Say::new(format!(
                    "Thank you for calling Example & Co. You are at step {step}; \
                     calls may be recorded for \"quality\" purposes."
                ))
                .voice("Polly.Joanna")
                .language("en-US"),
            )
            .add(
                Gather::new(Action::Url(menu))
                    .input([GatherInput::Dtmf, GatherInput::Speech])
                    .num_digits(1)
                    .timeout(Duration::from_secs(5))
                    .hints(["billing", "support", "sales"])
                    .add(Say::new(
                        "For billing, press 1 or say billing. For support, press 2.",
                    ))
                    .add(Play::new(
                        base.join(&format!("/media/menu-{step}.mp3")).unwrap(),
                    )),
            )
            .add(Pause::new().length(Duration::from_secs(1)))
            .add(Play::new(base.join("/media/sorry.mp3").unwrap()).loop_count(1));
        doc = match step % 3 {
            0 => doc.add(Redirect::new(
                base.join(&format!("/voice/menu/{step}/?retry=1&lang=en"))
                    .unwrap(),
            )),
            1 => doc.add(
                Dial::new()
                    .action(base.join("/voice/dial-done").unwrap())
                    .timeout(Duration::from_secs(20))
                    .caller_id("+15550100000")
                    .add(Number::new("+15550100001"))
                    .add(Number::new("+15550100002")),
            ),
            _ => doc.add(
                Record::new(base.join("/voice/voicemail").unwrap())
                    .max_length(Duration::from_secs(120))
                    .finish_on_key("#")
                    .play_beep(true),
            ),
        };
    }
    doc.add(Hangup::new())
}

fn bench_render(c: &mut Criterion) {
    let base = PublicBase::parse("https://ivr.example.com").unwrap();
    let prebuilt = ivr(&base);
    let bytes = prebuilt.to_xml().len() as u64;

    let mut group = c.benchmark_group("ivr_50_verbs");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("build_and_render", |b| {
        b.iter(|| ivr(black_box(&base)).to_xml())
    });
    group.bench_function("render_prebuilt", |b| {
        b.iter(|| black_box(&prebuilt).to_xml())
    });
    group.finish();
}

// `criterion_group!` defines an undocumented `pub fn`; kept private, it needs no docs.
mod group {
    criterion::criterion_group!(benches, super::bench_render);
}
criterion_main!(group::benches);
