package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/keyward/keyward"
)

// InsertAudit appends an entry to the audit log. A duplicate id is
// ECONFLICT. Entries are never changed or deleted.
func (s *store) InsertAudit(ctx context.Context, e *keyward.AuditEntry) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO audit (id, at, tenant_id, actor_kind, actor_id, action, target_id, ip, user_agent, result, details)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.ID, s.ts(e.At), e.TenantID, e.ActorKind, e.ActorID, e.Action, e.TargetID, e.IP, e.UserAgent, e.Result,
			rawJSON(e.Details))
		if err != nil {
			return writeError(err, "writing an audit entry", "an audit entry with this id already exists")
		}
		return nil
	})
}

// UpdateAuditDetails replaces the details of entry id of tenantID: the one
// change the log allows, so that repeated failures of one window are counted
// in one entry. A missing entry is ENOTFOUND.
func (s *store) UpdateAuditDetails(ctx context.Context, tenantID, id string, details json.RawMessage) error {
	return s.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE audit SET details = $1 WHERE id = $2 AND tenant_id = $3`,
			rawJSON(details), id, tenantID)
		if err != nil {
			return fmt.Errorf("updating an audit entry: %w", err)
		}
		return checkDeleted(res, "audit entry")
	})
}

// ListAudit returns one page of the audit log of tenantID, newest (last
// inserted) first, with the number of all matches. Action, ActorID and
// TargetID match exactly when set; Since keeps entries at or after it.
func (s *store) ListAudit(ctx context.Context, tenantID string, f keyward.AuditFilter) (keyward.List[*keyward.AuditEntry], error) {
	list := keyward.List[*keyward.AuditEntry]{Items: []*keyward.AuditEntry{}, Page: f.Page}
	var w whereClause
	w.add("tenant_id = ?", tenantID)
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.ActorID != "" {
		w.add("actor_id = ?", f.ActorID)
	}
	if f.TargetID != "" {
		w.add("target_id = ?", f.TargetID)
	}
	if f.Since != nil {
		w.add("at >= ?", s.ts(*f.Since))
	}
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit`+w.String(), w.args...).Scan(&list.TotalCount)
	if err != nil {
		return list, fmt.Errorf("counting audit entries: %w", err)
	}
	if list.TotalCount <= f.Page.Offset() {
		return list, nil
	}
	n := len(w.args)
	args := append(w.args, f.Page.Size, f.Page.Offset())
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, at, tenant_id, actor_kind, actor_id, action, target_id, ip, user_agent, result, details
		FROM audit`+w.String()+fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d OFFSET $%d`, n+1, n+2), args...)
	if err != nil {
		return list, fmt.Errorf("listing audit entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e keyward.AuditEntry
		err := rows.Scan(&e.ID, timeCol{&e.At}, &e.TenantID, &e.ActorKind, &e.ActorID, &e.Action, &e.TargetID,
			&e.IP, &e.UserAgent, &e.Result, rawJSONCol{&e.Details})
		if err != nil {
			return list, fmt.Errorf("listing audit entries: %w", err)
		}
		list.Items = append(list.Items, &e)
	}
	if err := rows.Err(); err != nil {
		return list, fmt.Errorf("listing audit entries: %w", err)
	}
	return list, nil
}
