//! coturn's `turnutils_uclient` as the tests run it (`turn_server.rs`, `gateway.rs`): its
//! command line, and the totals it reports at the end of a run. Included with
//! `#[path = "support/uclient.rs"] mod uclient;`.

use std::net::SocketAddr;

/// The arguments of a run against `server`: `-y -c -n 10` (client to client, no RTCP,
/// ten messages each), then `credentials`, then the server's port and address.
pub(crate) fn uclient_args(credentials: &[&str], server: SocketAddr) -> Vec<String> {
    ["-y", "-c", "-n", "10"]
        .iter()
        .chain(credentials)
        .map(|s| (*s).to_owned())
        .chain([
            "-p".to_owned(),
            server.port().to_string(),
            server.ip().to_string(),
        ])
        .collect()
}

/// The totals `turnutils_uclient` reports at the end of a run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) lost: u64,
}

/// Finds `4: : start_mclient: tot_send_msgs=20, tot_recv_msgs=20` and
/// `4: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)`.
pub(crate) fn totals(output: &str) -> Option<Totals> {
    let number_after = |line: &str, key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let mut sent = None;
    let mut received = None;
    let mut lost = None;
    for line in output.lines() {
        // The per-interval lines carry `msz=`; the final totals do not.
        if line.contains("start_mclient: tot_send_msgs=") {
            sent = number_after(line, "tot_send_msgs=");
            received = number_after(line, "tot_recv_msgs=");
        }
        if line.contains("Total lost packets ") {
            lost = number_after(line, "Total lost packets ");
        }
    }
    Some(Totals {
        sent: sent?,
        received: received?,
        lost: lost?,
    })
}
