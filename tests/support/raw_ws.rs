//! A WebSocket client that writes exactly the bytes it is given: handshakes as raw HTTP and
//! frames built field by field (FIN, RSV bits, opcode, mask, declared length), so the
//! emulator can be sent what no well-behaved client library would send. RFC 6455 §5.2.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A valid `Sec-WebSocket-Key` (the RFC's example).
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// One frame to send.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1..3 as the three bits under FIN (0 to 7).
    pub rsv: u8,
    /// The opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong; others reserved).
    pub opcode: u8,
    /// Whether the payload is masked (clients must mask).
    pub mask: bool,
    /// The payload.
    pub payload: Vec<u8>,
    /// A declared payload length other than the payload's own (the payload is still sent).
    pub declared_len: Option<u64>,
    /// Declares the length in the 8-byte form even when it would fit a shorter one.
    pub long_form: bool,
}

impl Frame {
    /// A masked, final frame.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode,
            mask: true,
            payload: payload.into(),
            declared_len: None,
            long_form: false,
        }
    }

    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![(u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 15)];
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        let mask_bit = u8::from(self.mask) << 7;
        if len < 126 && !self.long_form {
            out.push(mask_bit | len as u8);
        } else if len <= 0xFFFF && !self.long_form {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if self.mask {
            let key = [0x37, 0xfa, 0x21, 0x3d];
            out.extend_from_slice(&key);
            out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(&self.payload);
        }
        out
    }
}

/// What the server sent, frame by frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// A text frame.
    Text(String),
    /// A pong and its payload.
    Pong(Vec<u8>),
    /// A close frame: its code (1005 when it had none) and reason.
    Close(u16, String),
    /// Any other frame: its opcode.
    Other(u8),
    /// The TCP connection ended without a close frame.
    Ended,
    /// Nothing within the wait.
    Nothing,
}

/// A raw connection.
pub struct RawSocket {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawSocket {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> RawSocket {
        let stream = TcpStream::connect(addr)
            .await
            .expect("the emulator listens");
        stream.set_nodelay(true).unwrap();
        RawSocket {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes bytes as they are; `false` if the server has closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Sends a request and reads the response head: its status (`None` when the server closed
    /// the connection without answering within 10 s).
    pub async fn handshake(&mut self, request: &[u8]) -> Option<u16> {
        if !self.write(request).await {
            return None;
        }
        let head = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                    let head: Vec<u8> = self.buffer.drain(..end + 4).collect();
                    return Some(head);
                }
                let mut chunk = [0; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .ok()??;
        let line = String::from_utf8_lossy(&head);
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Sends a handshake for `path` with a valid key; panics unless it is accepted.
    pub async fn open(addr: &str, path: &str) -> RawSocket {
        let mut socket = RawSocket::connect(addr).await;
        let status = socket.handshake(request(addr, path, &[]).as_bytes()).await;
        assert_eq!(status, Some(101), "the handshake for {path} was refused");
        socket
    }

    /// The next frame the server sends, waiting up to `wait`.
    pub async fn next(&mut self, wait: Duration) -> Received {
        let frame = tokio::time::timeout(wait, async {
            loop {
                if let Some(frame) = parse(&mut self.buffer) {
                    return frame;
                }
                let mut chunk = [0; 65536];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return Received::Ended,
                    Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        frame.unwrap_or(Received::Nothing)
    }
}

/// A well-formed upgrade request for `path`, with extra header lines.
pub fn request(addr: &str, path: &str, extra: &[&str]) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One server frame from the front of `buffer`, if it is all there.
fn parse(buffer: &mut Vec<u8>) -> Option<Received> {
    if buffer.len() < 2 {
        return None;
    }
    let opcode = buffer[0] & 15;
    let (len, start) = match buffer[1] & 127 {
        126 if buffer.len() >= 4 => (u16::from_be_bytes([buffer[2], buffer[3]]) as usize, 4),
        127 if buffer.len() >= 10 => (
            u64::from_be_bytes(buffer[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        len => (len as usize, 2),
    };
    if buffer.len() < start + len {
        return None;
    }
    let payload: Vec<u8> = buffer.drain(..start + len).skip(start).collect();
    Some(match opcode {
        1 => Received::Text(String::from_utf8_lossy(&payload).into_owned()),
        10 => Received::Pong(payload),
        8 if payload.len() >= 2 => Received::Close(
            u16::from_be_bytes([payload[0], payload[1]]),
            String::from_utf8_lossy(&payload[2..]).into_owned(),
        ),
        8 => Received::Close(1005, String::new()),
        other => Received::Other(other),
    })
}
