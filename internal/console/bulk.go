package console

import (
	"net/http"
	"strings"

	"github.com/keyward/keyward"
)

// maxBulk bounds how many keys one bulk action changes.
const maxBulk = 100

// bulkActions are what the keys list does to the keys chosen in it.
var bulkActions = map[string]struct{ Heading, Button, Message, Done string }{
	"deactivate": {"Deactivate these keys?", "Deactivate", "Their secrets and tokens stop working now, until they are activated again:", "bulk-off"},
	"activate":   {"Activate these keys?", "Activate", "They work again (each until its expiry):", "bulk-on"},
	"delete":     {"Delete these keys?", "Delete", "They stop working now and cannot be restored:", "bulk-gone"},
}

// bulkKeys serves POST /console/keys/bulk: the keys chosen in the list
// (ids) and an action. Without confirm=1 it answers a confirmation that
// names every key; with it, it acts on each key the user may change and
// returns to the list.
func (c *Console) bulkKeys(w http.ResponseWriter, r *http.Request, s *session) error {
	action := r.PostFormValue("action")
	a, ok := bulkActions[action]
	ids := r.PostForm["ids"]
	if !ok || len(ids) == 0 || len(ids) > maxBulk {
		return refuse(http.StatusBadRequest, "Choose 1 to 100 keys in the list, then an action.")
	}
	var keys []*keyward.APIKey
	for _, id := range ids {
		k, err := c.svc.GetAPIKey(r.Context(), s.p, id)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	backTo := back(r, Prefix+"/keys")
	if r.PostFormValue("confirm") != "1" {
		v := confirmView{Heading: a.Heading, Button: a.Button + " " + plural(len(keys), "key"), Message: a.Message,
			Action: Prefix + "/keys/bulk", Back: backTo, Danger: action != "activate",
			Hidden: [][2]string{{"action", action}, {"confirm", "1"}}}
		for _, k := range keys {
			v.List = append(v.List, k.Name+" ("+k.ClientID+")")
			v.Hidden = append(v.Hidden, [2]string{"ids", k.ID})
		}
		c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
		return nil
	}
	for _, k := range keys {
		var err error
		switch action {
		case "delete":
			_, err = c.svc.DeleteAPIKey(r.Context(), s.p, k.ID, nil)
		default:
			on := action == "activate"
			if k.IsActive != on {
				_, err = c.svc.UpdateAPIKey(r.Context(), s.p, k.ID, keyward.APIKeyInput{IsActive: &on}, nil)
			}
		}
		if err != nil {
			return err // those before it are done; the page says which one failed
		}
	}
	if action == "delete" && strings.HasPrefix(backTo, Prefix+"/keys/") {
		backTo = Prefix + "/keys"
	}
	sep := "?"
	if strings.Contains(backTo, "?") {
		sep = "&"
	}
	http.Redirect(w, r, backTo+sep+"done="+a.Done, http.StatusSeeOther)
	return nil
}
