// Command goclient is a smoke program for the Go client that oapi-codegen
// generates, with no configuration, from the /openapi.json a keyward server
// serves. The client is not in the repository: the test
// (internal/httpapi TestGeneratedGoClient) generates it into ./kwclient of a
// copy of this module, builds this program and runs it against a live
// server. It logs in, creates a key, lists, gets and verifies it, and exits
// non-zero on any unexpected answer.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"

	"keyward.test/goclient/kwclient"
)

func main() {
	server := flag.String("server", "", "keyward's base URL")
	password := flag.String("password", "", "the admin's password")
	flag.Parse()
	if err := run(context.Background(), *server, *password); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

func bearer(token string) kwclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func run(ctx context.Context, server, password string) error {
	c, err := kwclient.NewClientWithResponses(server)
	if err != nil {
		return err
	}
	login, err := c.LoginWithResponse(ctx, kwclient.LoginJSONRequestBody{UserName: "admin", Password: password})
	if err != nil {
		return err
	}
	if login.JSON200 == nil {
		return fmt.Errorf("login: %d %s", login.StatusCode(), login.Body)
	}
	admin := bearer(login.JSON200.AccessToken)

	verify := "keys:verify"
	level := 2
	created, err := c.CreateAPIKeyWithResponse(ctx, nil, kwclient.CreateAPIKeyJSONRequestBody{Name: "go-client",
		Level: &level, Permissions: &[]kwclient.PermissionRef{{Name: &verify}}}, admin)
	if err != nil {
		return err
	}
	if created.JSON201 == nil {
		return fmt.Errorf("create: %d %s", created.StatusCode(), created.Body)
	}
	key := created.JSON201

	q := "go-client"
	list, err := c.ListAPIKeysWithResponse(ctx, &kwclient.ListAPIKeysParams{Q: &q}, admin)
	if err != nil {
		return err
	}
	if list.JSON200 == nil || list.JSON200.TotalCount != 1 || list.JSON200.Items[0].Id != key.Id {
		return fmt.Errorf("list: %d %s", list.StatusCode(), list.Body)
	}

	got, err := c.GetAPIKeyWithResponse(ctx, key.Id.String(), nil, admin)
	if err != nil {
		return err
	}
	if got.JSON200 == nil || got.JSON200.ClientId != key.ClientId {
		return fmt.Errorf("get: %d %s", got.StatusCode(), got.Body)
	}

	// The key verifies itself (it holds keys:verify).
	v, err := c.VerifyKeyWithResponse(ctx, nil, kwclient.VerifyKeyJSONRequestBody{Key: &key.ClientSecret,
		Permissions: &[]string{"keys:verify"}}, bearer(key.ClientSecret))
	if err != nil {
		return err
	}
	if v.JSON200 == nil || !v.JSON200.Valid {
		return fmt.Errorf("verify: %d %s", v.StatusCode(), v.Body)
	}
	fmt.Printf("ok: created, listed, got and verified %s\n", key.ClientId)
	return nil
}
