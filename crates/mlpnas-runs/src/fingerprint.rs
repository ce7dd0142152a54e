//! A run's config carries its fingerprint: [`seal`] puts the SHA-256 of the config text in a
//! comment on its first line when the run is made (and when `--resume --set` changes what may
//! change); [`unseal`] checks it on every read. An edited `config.toml` is refused rather than
//! run: its trials were made with the other config. Configs of runs made before fingerprints
//! existed have none and are trusted as before.

use mlpnas_core::digest::sha256_hex;

/// The first line of a sealed config, before the digest.
const PREFIX: &str = "# mlpnas-fingerprint: sha256:";

/// `config` with its fingerprint line (a TOML comment, so the file stays a config).
pub fn seal(config: &str) -> String {
    let body = strip(config);
    format!("{PREFIX}{}\n{body}", sha256_hex(body.as_bytes()))
}

/// The config text without its fingerprint line, after checking it; `Ok` as is for a config
/// without one (written before fingerprints). `Err` says what is wrong, one line.
pub fn unseal(text: &str) -> Result<&str, String> {
    let Some(rest) = text.strip_prefix(PREFIX) else { return Ok(text) };
    let (digest, body) = rest.split_once('\n').unwrap_or((rest, ""));
    if sha256_hex(body.as_bytes()) != digest.trim() {
        return Err(
            "edited after the run was made (its fingerprint does not match): a run's config cannot change; to search with these settings, start a new run from this file (mlpnas search --config FILE)"
                .into(),
        );
    }
    Ok(body)
}

/// The text after a fingerprint line, if it has one.
fn strip(text: &str) -> &str {
    match text.strip_prefix(PREFIX) {
        Some(rest) => rest.split_once('\n').map_or("", |(_, body)| body),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_config_reads_back_and_an_edit_is_caught() {
        let text = "seed = 42\n[search]\nbatch = 1\n";
        let sealed = seal(text);
        assert!(sealed.starts_with(PREFIX));
        assert_eq!(unseal(&sealed), Ok(text));
        assert_eq!(seal(&sealed), sealed, "sealing twice seals the body once");
        let edited = sealed.replace("seed = 42", "seed = 43");
        assert!(unseal(&edited).expect_err("edited").contains("fingerprint does not match"));
        assert!(unseal(&sealed.replace("sha256:", "sha256:0")).is_err());
        // Written before fingerprints: trusted as it is.
        assert_eq!(unseal(text), Ok(text));
        // Still a TOML config.
        let t: toml::Table = toml::from_str(&sealed).expect("toml");
        assert_eq!(t["seed"].as_integer(), Some(42));
    }
}
