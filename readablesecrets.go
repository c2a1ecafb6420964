package keyward

import "context"

// ReadableSecrets returns, by key id, the current secret of each of keys
// that the caller may read back: only when the tenant turned on
// PortosReadableSecrets (off by default, SPEC §7 Portos), only for HMAC
// keys (the sealed copy is what is read; plain keys keep only a hash), and
// only for keys the caller covers (the rule of a rotation, which hands a
// secret over too: policy.go). Every secret
// returned is one audit entry "apikey.secret.read", written before the
// answer leaves. Keys without a readable secret are simply absent.
func (s *Service) ReadableSecrets(ctx context.Context, p *Principal, keys []*APIKey) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	t, catalog, err := tenantCatalog(ctx, s.store, p.TenantID)
	if err != nil {
		return nil, err
	}
	if !t.PortosReadableSecrets {
		return out, nil
	}
	caller, err := callerKey(ctx, s.store, p)
	if err != nil {
		return nil, err
	}
	bound, callerBounds := callerLimits(caller)
	for _, k := range keys {
		if k.TenantID != p.TenantID || len(k.SecretCiphertext) == 0 {
			continue
		}
		// Reading a secret hands it over, as a rotation does: the same rule.
		facts, _, err := s.keyFacts(ctx, s.store, k, t.IsRoot, catalog)
		if err != nil {
			return nil, err
		}
		if p.authorizeKeyRotate(facts, k.Credits, bound, boundsOf(k), callerBounds) != nil {
			continue
		}
		sec, err := s.sealer.Open(k.SecretCiphertext, []byte(k.ID))
		if err != nil {
			return nil, err
		}
		out[k.ID] = string(sec)
	}
	if len(out) == 0 {
		return out, nil
	}
	if n := p.unspentSignature; n != nil {
		// An NWS4-signed read hands out a secret once: a replay is refused.
		if err := s.spend(ctx, n); err != nil {
			return nil, err
		}
		p.unspentSignature = nil
	}
	err = s.store.Tx(ctx, func(tx StoreTx) error {
		for id := range out {
			if err := s.audit(ctx, tx, p, "apikey.secret.read", p.TenantID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
