//! A Secret Service of the tests' own (org.freedesktop.Secret), on a
//! private D-Bus session bus in a temporary directory: the part of the API
//! hearth's client calls, with `plain` sessions and one default collection
//! that is never locked. The real user's bus and keyring are never touched.
//!
//! dbus-daemon must be installed (Debian's `dbus-daemon`); without it the
//! keyring tests fail and say so, rather than skip.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{fdo, interface};

const NAME: &str = "org.freedesktop.secrets";
const SERVICE: &str = "/org/freedesktop/secrets";
const COLLECTION: &str = "/org/freedesktop/secrets/collection/login";
const SESSION: &str = "/org/freedesktop/secrets/session/1";

/// One stored secret.
#[derive(Clone, Debug)]
pub struct Item {
    pub path: String,
    pub label: String,
    pub attributes: HashMap<String, String>,
    pub secret: Vec<u8>,
}

/// What the keyring holds; a test may change it directly.
#[derive(Default)]
pub struct Store {
    pub items: Vec<Item>,
    next: u32,
}

type Shared = Arc<Mutex<Store>>;

/// The Secret Service's `(oayays)`: session, parameters, value, type.
type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

fn path(p: &str) -> OwnedObjectPath {
    ObjectPath::try_from(p).unwrap().into()
}

fn matching(store: &Store, attributes: &HashMap<String, String>) -> Vec<OwnedObjectPath> {
    store
        .items
        .iter()
        .filter(|i| {
            attributes
                .iter()
                .all(|(k, v)| i.attributes.get(k) == Some(v))
        })
        .map(|i| path(&i.path))
        .collect()
}

fn secret_of(store: &Store, item: &str) -> fdo::Result<Secret> {
    let found = store.items.iter().find(|i| i.path == item);
    let item = found.ok_or_else(|| fdo::Error::UnknownObject(item.to_string()))?;
    Ok((
        path(SESSION),
        Vec::new(),
        item.secret.clone(),
        "application/octet-stream".into(),
    ))
}

struct Service(Shared, Arc<AtomicBool>);

#[interface(name = "org.freedesktop.Secret.Service")]
impl Service {
    #[zbus(out_args("output", "result"))]
    fn open_session(
        &self,
        algorithm: &str,
        _input: Value<'_>,
    ) -> fdo::Result<(OwnedValue, OwnedObjectPath)> {
        if algorithm != "plain" {
            return Err(fdo::Error::NotSupported(algorithm.to_string()));
        }
        Ok((
            OwnedValue::try_from(Value::from("")).unwrap(),
            path(SESSION),
        ))
    }

    #[zbus(out_args("unlocked", "locked"))]
    async fn search_items(
        &self,
        attributes: HashMap<String, String>,
    ) -> (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) {
        while self.1.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        (matching(&self.0.lock().unwrap(), &attributes), Vec::new())
    }

    #[zbus(out_args("unlocked", "prompt"))]
    fn unlock(&self, objects: Vec<OwnedObjectPath>) -> (Vec<OwnedObjectPath>, OwnedObjectPath) {
        (objects, path("/"))
    }

    fn read_alias(&self, name: &str) -> OwnedObjectPath {
        match name {
            "default" => path(COLLECTION),
            _ => path("/"),
        }
    }

    fn get_secrets(
        &self,
        items: Vec<OwnedObjectPath>,
        _session: OwnedObjectPath,
    ) -> fdo::Result<HashMap<OwnedObjectPath, Secret>> {
        let store = self.0.lock().unwrap();
        items
            .into_iter()
            .map(|i| Ok((i.clone(), secret_of(&store, i.as_str())?)))
            .collect()
    }

    #[zbus(property)]
    fn collections(&self) -> Vec<OwnedObjectPath> {
        vec![path(COLLECTION)]
    }
}

struct Collection(Shared);

#[interface(name = "org.freedesktop.Secret.Collection")]
impl Collection {
    #[zbus(out_args("item", "prompt"))]
    async fn create_item(
        &self,
        properties: HashMap<String, OwnedValue>,
        secret: Secret,
        replace: bool,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> fdo::Result<(OwnedObjectPath, OwnedObjectPath)> {
        let bad = |what: &str| fdo::Error::InvalidArgs(what.to_string());
        let attributes = properties
            .get("org.freedesktop.Secret.Item.Attributes")
            .ok_or_else(|| bad("no attributes"))?;
        let attributes = HashMap::<String, String>::try_from(
            attributes.try_clone().map_err(|e| bad(&e.to_string()))?,
        )
        .map_err(|e| bad(&e.to_string()))?;
        let label = match properties.get("org.freedesktop.Secret.Item.Label") {
            Some(l) => String::try_from(l.try_clone().unwrap()).map_err(|e| bad(&e.to_string()))?,
            None => String::new(),
        };
        let (item, new) = {
            let mut store = self.0.lock().unwrap();
            let same = store
                .items
                .iter_mut()
                .find(|i| i.attributes == attributes)
                .filter(|_| replace);
            match same {
                Some(old) => {
                    old.secret = secret.2;
                    old.label = label;
                    (old.path.clone(), false)
                }
                None => {
                    store.next += 1;
                    let item = format!("{COLLECTION}/{}", store.next);
                    store.items.push(Item {
                        path: item.clone(),
                        label,
                        attributes,
                        secret: secret.2,
                    });
                    (item, true)
                }
            }
        };
        if new {
            server
                .at(item.as_str(), ItemObject(self.0.clone(), item.clone()))
                .await?;
        }
        Ok((path(&item), path("/")))
    }

    fn search_items(&self, attributes: HashMap<String, String>) -> Vec<OwnedObjectPath> {
        matching(&self.0.lock().unwrap(), &attributes)
    }

    #[zbus(property)]
    fn locked(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn label(&self) -> String {
        "Login".into()
    }

    #[zbus(property)]
    fn items(&self) -> Vec<OwnedObjectPath> {
        let store = self.0.lock().unwrap();
        store.items.iter().map(|i| path(&i.path)).collect()
    }
}

struct ItemObject(Shared, String);

#[interface(name = "org.freedesktop.Secret.Item")]
impl ItemObject {
    fn get_secret(&self, _session: OwnedObjectPath) -> fdo::Result<(Secret,)> {
        Ok((secret_of(&self.0.lock().unwrap(), &self.1)?,))
    }

    #[zbus(property)]
    fn locked(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn attributes(&self) -> HashMap<String, String> {
        let store = self.0.lock().unwrap();
        let item = store.items.iter().find(|i| i.path == self.1);
        item.map(|i| i.attributes.clone()).unwrap_or_default()
    }
}

/// A running bus with the service on it. Stopping it keeps the directory
/// and what the keyring holds, so it can come back at the same address.
pub struct FakeKeyring {
    dir: tempfile::TempDir,
    pub store: Shared,
    /// Set, searches do not answer: a keyring stuck, say, on a prompt
    /// nobody sees.
    hang: Arc<AtomicBool>,
    bus: Option<Child>,
    conn: Option<zbus::Connection>,
    rt: tokio::runtime::Runtime,
}

impl FakeKeyring {
    /// A bus with the Secret Service on it.
    pub fn start() -> FakeKeyring {
        let mut k = FakeKeyring::bus_only();
        k.serve();
        k
    }

    /// A bus on which no Secret Service answers: a session without a
    /// keyring, as on many servers.
    pub fn bus_only() -> FakeKeyring {
        let dir = tempfile::Builder::new()
            .prefix("hearth-keyring-")
            .tempdir()
            .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut k = FakeKeyring {
            dir,
            store: Shared::default(),
            hang: Arc::default(),
            bus: None,
            conn: None,
            rt,
        };
        k.start_bus();
        k
    }

    /// What `DBUS_SESSION_BUS_ADDRESS` must say to reach this bus; it
    /// stays the same across a stop and a restart.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("bus")
    }

    fn start_bus(&mut self) {
        let config = self.dir.path().join("bus.conf");
        // No <servicedir>: nothing is ever activated, so no real keyring
        // daemon can start on this bus.
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                self.socket().display()
            ),
        )
        .unwrap();
        let _ = std::fs::remove_file(self.socket());
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // It warns that it cannot raise its fd limit: noise for a test.
            .stderr(std::fs::File::create(self.dir.path().join("bus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the keyring tests need dbus-daemon (Debian's package dbus-daemon) for a private bus: {e}"
                )
            });
        // It prints its address once it listens.
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
        self.bus = Some(bus);
    }

    fn serve(&mut self) {
        let address = self.address();
        let store = self.store.clone();
        let hang = self.hang.clone();
        let conn = self.rt.block_on(async move {
            zbus::connection::Builder::address(address.as_str())?
                .name(NAME)?
                .serve_at(SERVICE, Service(store.clone(), hang))?
                .serve_at(COLLECTION, Collection(store.clone()))?
                .build()
                .await
        });
        let conn = conn.expect("the fake Secret Service is on the bus");
        // Items made before a restart are served again.
        let items: Vec<String> = self
            .store
            .lock()
            .unwrap()
            .items
            .iter()
            .map(|i| i.path.clone())
            .collect();
        for item in items {
            let object = ItemObject(self.store.clone(), item.clone());
            self.rt
                .block_on(conn.object_server().at(item.as_str(), object))
                .unwrap();
        }
        self.conn = Some(conn);
    }

    /// The bus goes away; nothing answers at the address.
    pub fn stop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.rt.block_on(conn.close()).ok();
        }
        if let Some(mut bus) = self.bus.take() {
            bus.kill().ok();
            bus.wait().ok();
        }
    }

    /// Back at the same address, holding what it held.
    pub fn restart(&mut self) {
        self.start_bus();
        self.serve();
    }

    /// Searches stop answering, or answer again.
    pub fn hang(&self, on: bool) {
        self.hang.store(on, Ordering::Relaxed);
    }

    /// The items filed under these attributes.
    pub fn items_with(&self, attributes: &[(&str, &str)]) -> Vec<Item> {
        let store = self.store.lock().unwrap();
        let wanted: HashMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        store
            .items
            .iter()
            .filter(|i| wanted.iter().all(|(k, v)| i.attributes.get(k) == Some(v)))
            .cloned()
            .collect()
    }
}

impl Drop for FakeKeyring {
    fn drop(&mut self) {
        self.stop();
    }
}
