package githubapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox/githubapi"
)

// A world with one user who may push to a private repository, and the
// answer GitHub gives the bridge about it.
func Example() {
	gh := githubapi.New(githubapi.Options{})
	srv := httptest.NewServer(gh.Handler()) // base URL for --github-api (or srv.URL+"/api/v3" for GHES)
	defer srv.Close()

	gh.AddUser("octocat")
	gh.AddRepo("credd-dev/demo", true)
	gh.Grant("octocat", "credd-dev/demo", "push")
	token := gh.IssueToken("octocat", "app-user", "Iv1.example", 8*time.Hour)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/repos/CREDD-DEV/demo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var repo struct {
		FullName    string          `json:"full_name"`
		Permissions map[string]bool `json:"permissions"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&repo)
	fmt.Println(resp.StatusCode, repo.FullName, "push:", repo.Permissions["push"], "admin:", repo.Permissions["admin"])
	fmt.Println("GitHub calls:", gh.Requests("/repos/"))
	// Output:
	// 200 credd-dev/demo push: true admin: false
	// GitHub calls: 1
}
