package simulate

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// word is a Thai morpheme with a romanisation, so synthetic names read as Thai in Thai and as
// their usual transliteration in English.
type word struct{ th, en string }

var provincePrefixes = []word{
	{"นคร", "Nakhon"}, {"สุ", "Su"}, {"ศรี", "Si"}, {"เชียง", "Chiang"}, {"ลำ", "Lam"},
	{"ชัย", "Chai"}, {"สระ", "Sa"}, {"ปราจีน", "Prachin"}, {"กาญจน", "Kanchana"}, {"อุดร", "Udon"},
	{"อุบล", "Ubon"}, {"สมุทร", "Samut"}, {"นนท", "Non"}, {"ปทุม", "Pathum"}, {"ราช", "Rat"},
	{"ประจวบ", "Prachuap"}, {"พิษณุ", "Phitsanu"}, {"สกล", "Sakon"}, {"นราธิ", "Narathi"},
	{"กำแพง", "Kamphaeng"}, {"พระ", "Phra"}, {"มหา", "Maha"}, {"บุรี", "Buri"}, {"ตรัง", "Trang"},
	{"สิงห์", "Sing"}, {"อ่าง", "Ang"}, {"พัท", "Phat"}, {"ยโส", "Yaso"},
}

var provinceSuffixes = []word{
	{"บุรี", "buri"}, {"ธานี", "thani"}, {"ราช", "rat"}, {"นคร", "nakhon"}, {"สวรรค์", "sawan"},
	{"โลก", "lok"}, {"ภูมิ", "phum"}, {"ทอง", "thong"}, {"สาคร", "sakhon"}, {"ชัย", "chai"},
	{"ราม", "ram"}, {"ใหม่", "mai"}, {"เพชร", "phet"}, {"ศรี", "si"}, {"ธร", "thon"}, {"นาท", "nat"},
}

var placePrefixes = []word{
	{"บ้าน", "Ban"}, {"นา", "Na"}, {"หนอง", "Nong"}, {"โคก", "Khok"}, {"ดอน", "Don"}, {"ท่า", "Tha"},
	{"บาง", "Bang"}, {"ห้วย", "Huai"}, {"วัง", "Wang"}, {"เมือง", "Mueang"}, {"ทุ่ง", "Thung"},
	{"สระ", "Sa"}, {"ป่า", "Pa"}, {"เวียง", "Wiang"}, {"ศรี", "Si"}, {"ลำ", "Lam"}, {"โนน", "Non"},
	{"คลอง", "Khlong"}, {"แม่", "Mae"}, {"หัว", "Hua"}, {"สวน", "Suan"}, {"บึง", "Bueng"},
}

var placeSuffixes = []word{
	{"ใหญ่", "Yai"}, {"น้อย", "Noi"}, {"ทอง", "Thong"}, {"แก้ว", "Kaeo"}, {"งาม", "Ngam"},
	{"ดี", "Di"}, {"สวรรค์", "Sawan"}, {"เหนือ", "Nuea"}, {"ใต้", "Tai"}, {"กลาง", "Klang"},
	{"พัฒนา", "Phatthana"}, {"ยาง", "Yang"}, {"โพธิ์", "Pho"}, {"ไผ่", "Phai"}, {"แดง", "Daeng"},
	{"ขาม", "Kham"}, {"หลวง", "Luang"}, {"สามัคคี", "Samakkhi"}, {"ชัย", "Chai"}, {"เจริญ", "Charoen"},
	{"สมบูรณ์", "Sombun"}, {"จันทร์", "Chan"}, {"มะม่วง", "Mamuang"}, {"ตะเคียน", "Takhian"},
	{"บัว", "Bua"}, {"สำราญ", "Samran"}, {"เก่า", "Kao"}, {"ใหม่", "Mai"},
}

var partyWords = []word{
	{"เพื่อ", "Pheu"}, {"ไทย", "Thai"}, {"พลัง", "Palang"}, {"ประชา", "Pracha"}, {"รวม", "Ruam"},
	{"ชาติ", "Chat"}, {"ก้าว", "Kao"}, {"ใหม่", "Mai"}, {"ธรรม", "Tham"}, {"สร้าง", "Sang"},
	{"รักษ์", "Rak"}, {"เสรี", "Seri"}, {"ประชาธิปไตย", "Prachathipatai"}, {"ภูมิ", "Phum"},
	{"ใจ", "Chai"}, {"ไกล", "Klai"}, {"พัฒนา", "Phatthana"}, {"สังคม", "Sangkhom"},
	{"แผ่นดิน", "Phaendin"}, {"ประชารัฐ", "Pracharat"}, {"อนาคต", "Anakhot"}, {"เสมอภาค", "Samoephak"},
	{"ทางเลือก", "Thang Lueak"}, {"ภักดี", "Phakdi"}, {"ยุติธรรม", "Yutitham"}, {"สามัคคี", "Samakkhi"},
	{"ก้าวหน้า", "Kaona"}, {"ชาวนา", "Chao Na"}, {"แรงงาน", "Raengngan"}, {"กรีน", "Green"},
	{"ราษฎร", "Ratsadon"}, {"เกษตร", "Kaset"}, {"ท้องถิ่น", "Thongthin"}, {"ศรัทธา", "Sattha"},
	{"หนึ่ง", "Nueng"}, {"สยาม", "Siam"}, {"ปวงชน", "Puangchon"}, {"สหกรณ์", "Sahakon"},
}

var maleNames = []string{
	"สมชาย", "สมศักดิ์", "วิชัย", "ประยุทธ", "อนุชา", "กิตติ", "ธนา", "ณัฐพล", "บุญมี", "สุนทร",
	"อรุณ", "ชัยวัฒน์", "ประเสริฐ", "สุรชัย", "นิพนธ์", "ปิยะ", "ธีระ", "วีระ", "ศักดิ์ชัย", "อภิชาติ",
	"ไพโรจน์", "เกียรติศักดิ์", "ทองดี", "บุญส่ง", "ยุทธนา",
}

var femaleNames = []string{
	"สุดารัตน์", "พิมพ์ชนก", "ศิริพร", "วรรณา", "มาลี", "จันทร์เพ็ญ", "รัตนา", "อัญชลี", "พรทิพย์", "กัลยา",
	"จิราพร", "ธนพร", "สมหญิง", "วิไลวรรณ", "ปวีณา",
}

var surnamePrefixes = []string{
	"ศรี", "ทอง", "แก้ว", "บุญ", "สุข", "จันทร์", "ใจ", "วงศ์", "พิทักษ์", "รุ่ง", "เจริญ", "มั่น",
	"ชัย", "ประเสริฐ", "สมบูรณ์", "พร", "อินทร", "เพชร", "สาย", "ดวง",
}

var surnameSuffixes = []string{
	"สุข", "ดี", "งาม", "วงศ์", "ศักดิ์", "เจริญ", "ทอง", "ชัย", "รักษ์", "พันธ์", "สกุล", "มณี",
	"วัฒนา", "เกียรติ", "ศรี", "สวัสดิ์", "กุล", "ธรรม",
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// uniqueNames draws n distinct names from gen, trying a bounded number of times per name and
// falling back to a numbered variant so a tiny vocabulary can never loop forever.
func uniqueNames(n int, gen func() word) []word {
	seen := make(map[string]bool, n)
	out := make([]word, 0, n)
	for len(out) < n {
		var w word
		ok := false
		for try := 0; try < 50; try++ {
			w = gen()
			if !seen[w.th] {
				ok = true
				break
			}
		}
		if !ok {
			suffix := " " + strconv.Itoa(len(out)+1)
			w = word{w.th + suffix, w.en + suffix}
		}
		seen[w.th] = true
		out = append(out, w)
	}
	return out
}

func provinceName(r *rand.Rand) word {
	p, s := pick(r, provincePrefixes), pick(r, provinceSuffixes)
	return word{p.th + s.th, strings.ToUpper(p.en + s.en)}
}

func placeName(r *rand.Rand) word {
	p, s := pick(r, placePrefixes), pick(r, placeSuffixes)
	return word{p.th + s.th, p.en + " " + s.en}
}

func partyName(r *rand.Rand) word {
	n := 1 + r.IntN(3)
	var th, en []string
	used := map[int]bool{}
	for len(th) < n {
		i := r.IntN(len(partyWords))
		if used[i] {
			continue
		}
		used[i] = true
		th = append(th, partyWords[i].th)
		en = append(en, partyWords[i].en)
	}
	return word{strings.Join(th, ""), strings.Join(en, " ")}
}

func personName(r *rand.Rand) string {
	title, given := "นาย", pick(r, maleNames)
	switch r.IntN(5) {
	case 0:
		title, given = "นาง", pick(r, femaleNames)
	case 1:
		title, given = "นางสาว", pick(r, femaleNames)
	}
	return title + given + " " + pick(r, surnamePrefixes) + pick(r, surnameSuffixes)
}
