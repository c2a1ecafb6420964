package sqlstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestConcurrentTransactions runs transactions (some rolled back) beside
// reads of the same statements outside them: on SQLite the transactions and
// the writes outside them share the one write connection's statements, the
// reads the read pool's.
func TestConcurrentTransactions(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		const writers, rounds = 3, 8
		st := sqlstore.Guard(db, sqlstore.Limits{})
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		errRollback := errors.New("rolled back on purpose")
		newKey := func(name string) *keyward.APIKey {
			return &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: secret.NewClientID("kw"), Name: name,
				IsActive: true, CreatedAt: now, UpdatedAt: now, CreatedBy: "x", Version: 1, SecretGeneration: 1,
				SecretHash: secret.RandomBytes(32)}
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			kept    = map[string]bool{} // key id: committed
			hashes  [][]byte
			stopped = make(chan struct{})
		)
		errs := make(chan error, writers+2)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					k := newKey(fmt.Sprintf("w%d r%d", w, r))
					rollback := r%4 == 3
					err := st.Tx(ctx, func(tx keyward.StoreTx) error {
						if err := tx.CreateAPIKey(ctx, k); err != nil {
							return err
						}
						got, err := tx.GetAPIKey(ctx, tn.ID, k.ID)
						if err != nil {
							return err
						}
						got.Name, got.Version = got.Name+" renamed", got.Version+1
						if err := tx.UpdateAPIKey(ctx, got, got.Version-1); err != nil {
							return err
						}
						if rollback {
							return errRollback
						}
						return nil
					})
					if rollback && !errors.Is(err, errRollback) || !rollback && err != nil {
						errs <- fmt.Errorf("writer %d round %d: %v", w, r, err)
						return
					}
					mu.Lock()
					kept[k.ID] = !rollback
					if !rollback {
						hashes = append(hashes, k.SecretHash)
					}
					mu.Unlock()
				}
			}()
		}
		// Readers: the statements of the transactions, outside any.
		var readers sync.WaitGroup
		for range 2 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for i := 0; ; i++ {
					select {
					case <-stopped:
						return
					default:
					}
					mu.Lock()
					var hash []byte
					if len(hashes) > 0 {
						hash = hashes[i%len(hashes)]
					}
					mu.Unlock()
					if hash != nil {
						if _, err := st.KeyForVerification(ctx, hash); err != nil {
							errs <- fmt.Errorf("verifying a committed key: %v", err)
							return
						}
					}
					if _, err := st.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 5}}); err != nil {
						errs <- fmt.Errorf("listing: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stopped)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for id, committed := range kept {
			k, err := st.GetAPIKey(ctx, tn.ID, id)
			switch {
			case committed && err != nil:
				t.Errorf("committed key %s: %v", id, err)
			case committed && k.Version != 2:
				t.Errorf("committed key %s: got version %d, want 2", id, k.Version)
			case !committed && keyward.ErrorCode(err) != keyward.ENOTFOUND:
				t.Errorf("rolled-back key %s: got %v, want ENOTFOUND", id, err)
			}
		}
		list, err := st.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if want := writers * (rounds - rounds/4); len(list.Items) != want {
			t.Errorf("got %d keys, want %d", len(list.Items), want)
		}
	})
}
