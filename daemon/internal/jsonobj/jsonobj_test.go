package jsonobj

import "testing"

func TestMembersKeepOrderAndDuplicates(t *testing.T) {
	ms, err := Members([]byte(`{"aud":"a","sub":{"x":1},"aud":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+"="+string(m.Value))
	}
	want := []string{`aud="a"`, `sub={"x":1}`, `aud="b"`}
	if len(got) != len(want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestMembersRefusesWhatIsNotOneObject(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":1`, `{"a":1}{}`, `{"a":1} x`, `{"a":}`} {
		if _, err := Members([]byte(in)); err == nil {
			t.Errorf("Members(%q) gave no error", in)
		}
	}
}
