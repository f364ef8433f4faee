//! Issue 11 (4): secrets at rest. Stored in clear without a key (and `serve` warns); with a key,
//! sealed at start and on every write; a database whose sealed secrets the key given cannot
//! open is refused, naming the keys; `rotate_key` moves every secret to a new key at once.

use diesel::prelude::*;
use rovim_core::{SdnControllerId, VimAccountId, VimType};
use rovim_store::schema::{sdn_controllers, vim_accounts};
use rovim_store::test_support::backends;
use rovim_store::{
    DbWrite, DbWriter, NewSdnController, NewVimAccount, Secret, SecretKey, SecretOwner, Store,
    accounts,
};

fn raw(store: &Store) -> Vec<String> {
    let mut c = store.conn().unwrap();
    let mut all: Vec<String> = vim_accounts::table
        .select(vim_accounts::secret)
        .load::<Option<String>>(&mut *c)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    all.extend(
        sdn_controllers::table
            .select(sdn_controllers::secret)
            .load::<Option<String>>(&mut *c)
            .unwrap()
            .into_iter()
            .flatten(),
    );
    all
}

#[actix_rt::test]
async fn secrets_are_sealed_refused_without_their_key_and_rotated() {
    let (k1, k2) = (
        SecretKey::from_hex(&"11".repeat(32)).unwrap(),
        SecretKey::from_hex(&"22".repeat(32)).unwrap(),
    );
    for db in backends() {
        let case = db.name();
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let writer = DbWriter::start(db.store.clone(), 8, log);
        let vim = VimAccountId::generate();
        writer
            .write(DbWrite::InsertVimAccount(NewVimAccount {
                id: vim,
                name: "v".into(),
                vim_type: VimType::Sim,
                url: "sim://sealed".into(),
                tenant: None,
                username: Some("u".into()),
                secret: Some(Secret::new("pw-vim-clear")),
                config: serde_json::json!({}),
                sdn_controller: None,
            }))
            .await
            .unwrap();
        let sdn = SdnControllerId::generate();
        writer
            .write(DbWrite::InsertSdnController(NewSdnController {
                id: sdn,
                name: "s".into(),
                sdn_type: "sim".into(),
                url: "sim-sdn://sealed".into(),
                username: None,
                secret: Some(Secret::new("pw-sdn-clear")),
                config: serde_json::json!({}),
            }))
            .await
            .unwrap();
        assert_eq!(
            db.store.census().unwrap().clear,
            2,
            "{case}: no key, in clear"
        );
        assert_eq!(
            db.store.prepare_secrets().unwrap().in_clear,
            2,
            "{case}: left in clear"
        );

        let with_k1 = db.reopen().with_key(Some(k1.clone()));
        assert_eq!(
            with_k1.prepare_secrets().unwrap().sealed_now,
            2,
            "{case}: sealed at start"
        );
        assert_eq!(
            with_k1.prepare_secrets().unwrap().sealed_now,
            0,
            "{case}: once"
        );
        for value in raw(&with_k1) {
            assert!(
                value.starts_with("rovim-sealed:v1:") && !value.contains("clear"),
                "{case}: {value}"
            );
        }
        let row = accounts::get_vim_account(&mut with_k1.conn().unwrap(), vim).unwrap();
        let sealed = row.secret.unwrap();
        assert!(
            sealed.expose().is_err(),
            "{case}: a sealed secret is not usable as it is"
        );
        let opened = with_k1
            .open_secret(SecretOwner::VimAccount(vim), &sealed)
            .unwrap();
        assert_eq!(opened.expose(), Ok("pw-vim-clear"));
        // Bound to its row: the account's sealed password does not open as the controller's.
        assert!(
            with_k1
                .open_secret(SecretOwner::SdnController(sdn), &sealed)
                .is_err()
        );

        let no_key = db.reopen().prepare_secrets().unwrap_err().to_string();
        assert!(
            no_key.contains(&format!("2 with key {}", k1.id()))
                && no_key.contains("no key was given"),
            "{case}: {no_key}"
        );
        let wrong = db
            .reopen()
            .with_key(Some(k2.clone()))
            .prepare_secrets()
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains(&format!("the key given is {}", k2.id())),
            "{case}: {wrong}"
        );
        let before = raw(&with_k1);
        assert_eq!(
            raw(&db.reopen()),
            before,
            "{case}: a refusal changes nothing"
        );

        let (with_k2, n) = with_k1.rotate_key(k2.clone()).unwrap();
        assert_eq!(n, 2, "{case}");
        assert_eq!(
            with_k2.prepare_secrets().unwrap().sealed_now,
            0,
            "{case}: k2 opens everything"
        );
        assert!(
            db.reopen()
                .with_key(Some(k1.clone()))
                .prepare_secrets()
                .is_err(),
            "{case}: k1 no longer does"
        );
        let census = with_k2.census().unwrap();
        assert_eq!(
            (census.clear, census.sealed.get(k2.id()).copied()),
            (0, Some(2)),
            "{case}"
        );
        let row = accounts::get_vim_account(&mut with_k2.conn().unwrap(), vim).unwrap();
        let opened = with_k2
            .open_secret(SecretOwner::VimAccount(vim), &row.secret.unwrap())
            .unwrap();
        assert_eq!(opened.expose(), Ok("pw-vim-clear"), "{case}");
    }
}
