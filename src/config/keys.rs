//! Which keys the config file may hold: the current ones per section, and the legacy
//! ones of the original scalegrease that are ignored with a warning. Unknown keys are
//! warned about too, so a typo does not pass silently.

use std::path::Path;

/// Keys ignored with a warning: they configured parts of the original that no longer exist.
const LEGACY_KEYS: &[(&str, &str)] = &[
    ("", "extra_runners"),
    ("", "zookeeper"),
    ("launch", "launcher_class"),
    ("launch", "kafka_launcher_topic"),
];

/// Keys known per section (`""` is the top level), for unknown-key warnings.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "common",
            "launch",
            "maven",
            "guard",
            "runners",
            "LuigiRunner",
            "HadoopRunner",
            "store",
            "funnel",
            "history",
            "snatch",
            "web",
            "alerts",
        ],
    ),
    ("common", &["file_logger", "hostname"]),
    (
        "launch",
        &[
            "crontab_etc_crond",
            "crontab_unique_prefix",
            "allowed_users",
            "allow_root",
            "trusted_keys",
            "allow_plain_commands",
            "allowed_env",
        ],
    ),
    (
        "maven",
        &[
            "repositories",
            "cache_dir",
            "connect_timeout",
            "timeout",
            "request_timeout",
            "attempts",
        ],
    ),
    (
        "guard",
        &[
            "max_load_per_cpu",
            "max_running",
            "min_available_memory_mb",
            "max_delay_s",
        ],
    ),
    (
        "funnel",
        &[
            "retention",
            "heartbeat_interval",
            "abandon_after",
            "on_store_unavailable",
        ],
    ),
    ("history", &["retention"]),
    ("snatch", &["pull"]),
    ("web", &["listen", "users"]),
    (
        "alerts",
        &[
            "check",
            "interval",
            "webhook",
            "format",
            "command",
            "timeout",
            "on",
            "retry_delay",
            "retry_max_delay",
            "give_up_after",
            "project_webhooks",
            "projects",
        ],
    ),
];

pub(super) fn key_warnings(tree: &serde_json::Value, path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = tree.as_object() else {
        return out;
    };
    let mut check = |section: &str, obj: &serde_json::Map<String, serde_json::Value>| {
        let known = KNOWN_KEYS
            .iter()
            .find(|(s, _)| *s == section)
            .map(|(_, k)| *k)
            .unwrap_or(&[]);
        for key in obj.keys() {
            let dotted = if section.is_empty() {
                key.clone()
            } else {
                format!("{section}.{key}")
            };
            if LEGACY_KEYS.iter().any(|(s, k)| *s == section && k == key) {
                out.push(format!(
                    "{}: ignoring {dotted}: it configured a part of the original scalegrease that no longer exists",
                    path.display()
                ));
            } else if !known.contains(&key.as_str()) {
                out.push(format!("{}: ignoring unknown key {dotted}", path.display()));
            }
        }
    };
    check("", top);
    for (section, _) in KNOWN_KEYS.iter().filter(|(s, _)| !s.is_empty()) {
        if let Some(obj) = top.get(*section).and_then(|v| v.as_object()) {
            check(section, obj);
        }
    }
    out
}
