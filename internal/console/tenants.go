package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// tenantForm is the add-tenant form.
type tenantForm struct {
	Name, Prefix string
	Errors       map[string]string
	Error        string
}

type tenantsView struct {
	Tenants []*keyward.Tenant
	Pager   pager
	Form    tenantForm
}

// tenantsPage serves GET /console/tenants: the tenants, for root admins
// (tenants:admin).
func (c *Console) tenantsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderTenants(w, r, s, http.StatusOK, tenantForm{Prefix: keyward.DefaultPrefix})
}

func (c *Console) renderTenants(w http.ResponseWriter, r *http.Request, s *session, status int, f tenantForm) error {
	number := pageNumber(r)
	list, err := c.svc.ListTenants(r.Context(), s.p, keyward.Page{Number: number, Size: listPageSize})
	if err != nil {
		return err
	}
	v := tenantsView{Tenants: list.Items, Form: f}
	v.Pager = newPager(number, listPageSize, list.TotalCount, func(n int) string {
		return Prefix + "/tenants?" + url.Values{"page": {strconv.Itoa(n)}}.Encode()
	})
	c.render(w, r, s, status, "tenants", "Tenants", v)
	return nil
}

// createTenant serves POST /console/tenants.
func (c *Console) createTenant(w http.ResponseWriter, r *http.Request, s *session) error {
	f := tenantForm{Name: strings.TrimSpace(r.PostFormValue("name")), Prefix: strings.TrimSpace(r.PostFormValue("prefix")), Errors: map[string]string{}}
	if f.Name == "" {
		f.Errors["name"] = "Enter a name."
	}
	if len(f.Errors) > 0 {
		return c.renderTenants(w, r, s, http.StatusBadRequest, f)
	}
	in := keyward.TenantInput{Name: &f.Name}
	if f.Prefix != "" {
		in.Prefix = &f.Prefix
	}
	if _, err := c.svc.CreateTenant(r.Context(), s.p, in); err != nil {
		fields, msg, status, ok := formProblem(err, nil)
		if !ok {
			return err
		}
		f.Errors, f.Error = fields, msg
		return c.renderTenants(w, r, s, status, f)
	}
	http.Redirect(w, r, Prefix+"/tenants?done=tenant-added", http.StatusSeeOther)
	return nil
}

// confirmTenantActive serves GET /console/tenants/{id}/active: deactivating
// a tenant stops all of its keys and users, so it asks first.
func (c *Console) confirmTenantActive(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := c.svc.GetTenant(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := confirmView{Action: Prefix + "/tenants/" + t.ID + "/active", Back: Prefix + "/tenants"}
	if t.IsActive {
		v.Heading, v.Button, v.Danger = "Deactivate tenant “"+t.Name+"”?", "Deactivate tenant", true
		v.Message = "Every API key, access token and user of " + t.Name + " stops working now, until the tenant is activated again. Nothing is deleted."
		v.Hidden = [][2]string{{"active", "false"}}
	} else {
		v.Heading, v.Button = "Activate tenant “"+t.Name+"”?", "Activate tenant"
		v.Message = "The keys and users of " + t.Name + " work again as they were before (those deactivated one by one stay off)."
		v.Hidden = [][2]string{{"active", "true"}}
	}
	c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
	return nil
}

// setTenantActive serves POST /console/tenants/{id}/active.
func (c *Console) setTenantActive(w http.ResponseWriter, r *http.Request, s *session) error {
	active := r.PostFormValue("active") == "true"
	if _, err := c.svc.UpdateTenant(r.Context(), s.p, r.PathValue("id"), keyward.TenantInput{IsActive: &active}); err != nil {
		if fields, msg, status, ok := formProblem(err, nil); ok && status == http.StatusBadRequest {
			for _, m := range fields {
				msg = m
			}
			return refuse(status, msg)
		}
		return err
	}
	done := "tenant-off"
	if active {
		done = "tenant-on"
	}
	http.Redirect(w, r, Prefix+"/tenants?done="+done, http.StatusSeeOther)
	return nil
}
