//! SCRAM-SHA-256 (RFC 5802 / 7677), the password exchange PostgreSQL uses by default: the server
//! proves it knows the password and the client proves it does, and the password never crosses
//! the wire.
//!
//! ```text
//!  server: AuthenticationSASL ["SCRAM-SHA-256"]
//!  client: SASLInitialResponse  n,,n=,r=<client nonce>                      (client-first)
//!  server: AuthenticationSASLContinue  r=<client nonce + server nonce>,s=<salt>,i=4096
//!  client: SASLResponse  c=biws,r=<nonce>,p=<ClientProof>                   (client-final)
//!  server: AuthenticationSASLFinal  v=<ServerSignature>, then AuthenticationOk
//!
//!  SaltedPassword  = PBKDF2-HMAC-SHA-256(password, salt, i)
//!  ClientKey       = HMAC(SaltedPassword, "Client Key")      StoredKey = SHA-256(ClientKey)
//!  AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//!  ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
//!  ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
//! ```
//!
//! This module is the exchange without the I/O, so it is tested against a client computed by
//! hand here and, in tests/pg_wire.rs, against psql and tokio-postgres.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PostgreSQL's default `scram_iterations`.
pub const ITERATIONS_COUNT: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// PBKDF2 with HMAC-SHA-256 and one output block (RFC 5802's `Hi`).
pub fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// The server's side of one exchange.
pub struct ServerExchange {
    password: Vec<u8>,
    salt: [u8; 16],
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Why an exchange failed: a malformed message (protocol violation) or a wrong password.
#[derive(Debug, PartialEq)]
pub enum ScramError {
    Malformed(&'static str),
    WrongPassword,
}

fn attr<'a>(msg: &'a str, key: char) -> Option<&'a str> {
    msg.split(',').find_map(|p| p.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

impl ServerExchange {
    /// Reads the client-first message and produces the server-first message.
    pub fn start(
        password: &str,
        client_first: &[u8],
        server_nonce: &[u8; 18],
        salt: [u8; 16],
    ) -> Result<(Self, String), ScramError> {
        let text = std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("invalid SCRAM message"))?;
        // GS2 header: "n" (no channel binding) or "y" (client could, thinks we cannot); "p=..."
        // asks for channel binding, which needs TLS and which terrarium does not offer.
        let bare = match text.split_once(",,") {
            Some((gs2, bare)) if gs2 == "n" || gs2 == "y" => bare,
            Some((gs2, _)) if gs2.starts_with("p=") => {
                return Err(ScramError::Malformed("channel binding is not supported"))
            }
            _ => return Err(ScramError::Malformed("malformed SCRAM message")),
        };
        let client_nonce = attr(bare, 'r').ok_or(ScramError::Malformed("malformed SCRAM message"))?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(ScramError::Malformed("malformed SCRAM message"));
        }
        let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={ITERATIONS_COUNT}", B64.encode(salt));
        let ex = ServerExchange {
            password: password.as_bytes().to_vec(),
            salt,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((ex, server_first))
    }

    /// Checks the client-final message's proof; on success returns the server-final message.
    pub fn finish(&self, client_final: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("invalid SCRAM message"))?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or(ScramError::Malformed("malformed SCRAM message"))?;
        let binding = attr(without_proof, 'c').ok_or(ScramError::Malformed("malformed SCRAM message"))?;
        if binding != "biws" && binding != "eSws" {
            return Err(ScramError::Malformed("SCRAM channel binding check failed"));
        }
        if attr(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("SCRAM nonce mismatch"));
        }
        let proof = B64.decode(proof).map_err(|_| ScramError::Malformed("malformed SCRAM message"))?;
        if proof.len() != 32 {
            return Err(ScramError::Malformed("malformed SCRAM message"));
        }
        let salted = salted_password(&self.password, &self.salt, ITERATIONS_COUNT);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let recovered: Vec<u8> = proof.iter().zip(signature.iter()).map(|(p, s)| p ^ s).collect();
        let check: [u8; 32] = Sha256::digest(&recovered).into();
        if check != stored_key {
            return Err(ScramError::WrongPassword);
        }
        let server_key = hmac(&salted, b"Server Key");
        Ok(format!("v={}", B64.encode(hmac(&server_key, auth_message.as_bytes()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's side, computed the way libpq does.
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> (String, String) {
        let nonce = attr(server_first, 'r').unwrap();
        let salt = B64.decode(attr(server_first, 's').unwrap()).unwrap();
        let i: u32 = attr(server_first, 'i').unwrap().parse().unwrap();
        let salted = salted_password(password.as_bytes(), &salt, i);
        let client_key = hmac(&salted, b"Client Key");
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        let without = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without}");
        let sig = hmac(&stored, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(sig.iter()).map(|(a, b)| a ^ b).collect();
        let server_sig = hmac(&hmac(&salted, b"Server Key"), auth.as_bytes());
        (format!("{without},p={}", B64.encode(proof)), format!("v={}", B64.encode(server_sig)))
    }

    #[test]
    fn rfc7677_pbkdf2_and_a_full_exchange() {
        // PBKDF2-HMAC-SHA256 test vector (RFC 7914 §11, one iteration, first block).
        let p = salted_password(b"passwd", b"salt", 1);
        assert_eq!(&p[..8], &[0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
        let (ex, server_first) = ServerExchange::start("sekrit", b"n,,n=,r=abcdef", &[7; 18], [3; 16]).unwrap();
        let (good, expected_final) = client_final("sekrit", "n=,r=abcdef", &server_first);
        assert_eq!(ex.finish(good.as_bytes()).unwrap(), expected_final);
        let (bad, _) = client_final("wrong", "n=,r=abcdef", &server_first);
        assert_eq!(ex.finish(bad.as_bytes()), Err(ScramError::WrongPassword));
        assert!(matches!(
            ServerExchange::start("x", b"p=tls-server-end-point,,n=,r=a", &[0; 18], [0; 16]),
            Err(ScramError::Malformed(_))
        ));
        assert!(ex.finish(b"garbage").is_err());
    }
}
