package ipk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

// Entry is one tar member as read back.
type Entry struct {
	Name     string
	Typeflag byte
	Mode     int64
	Uid, Gid int
	Uname    string
	Gname    string
	ModTime  int64 // Unix seconds
	Data     []byte
}

// Contents is an .ipk taken apart.
type Contents struct {
	Outer        []Entry // ./debian-binary, ./data.tar.gz, ./control.tar.gz
	Control      []Entry // members of control.tar.gz
	Data         []Entry // members of data.tar.gz
	DataTarSize  int64   // uncompressed size of data.tar
	ControlField map[string]string
}

// Member returns the named entry of entries ("./usr/sbin/wanlb").
func Member(entries []Entry, name string) (Entry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Read takes an .ipk apart: an outer gzip'd tar whose members are
// themselves gzip'd tars (opkg also accepts an ar archive; Build never
// writes one, so Read rejects it).
func Read(r io.Reader) (*Contents, error) {
	outer, _, err := readTarGz(r)
	if err != nil {
		return nil, fmt.Errorf("ipk: outer archive: %w", err)
	}
	c := &Contents{Outer: outer}
	if ct, ok := Member(outer, "./control.tar.gz"); ok {
		if c.Control, _, err = readTarGz(bytes.NewReader(ct.Data)); err != nil {
			return nil, fmt.Errorf("ipk: control.tar.gz: %w", err)
		}
	}
	if dt, ok := Member(outer, "./data.tar.gz"); ok {
		if c.Data, c.DataTarSize, err = readTarGz(bytes.NewReader(dt.Data)); err != nil {
			return nil, fmt.Errorf("ipk: data.tar.gz: %w", err)
		}
	}
	if cf, ok := Member(c.Control, "./control"); ok {
		c.ControlField = ParseControl(string(cf.Data))
	}
	return c, nil
}

// ParseControl reads a control file's fields (continuation lines of
// Description are joined with newlines).
func ParseControl(text string) map[string]string {
	fields := map[string]string{}
	last := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") && last != "" {
			fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		fields[last] = strings.TrimSpace(v)
	}
	return fields
}

func readTarGz(r io.Reader) ([]Entry, int64, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []Entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, Entry{
			Name: h.Name, Typeflag: h.Typeflag, Mode: h.Mode,
			Uid: h.Uid, Gid: h.Gid, Uname: h.Uname, Gname: h.Gname,
			ModTime: h.ModTime.Unix(), Data: data,
		})
	}
	return out, int64(len(raw)), nil
}
