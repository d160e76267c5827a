-- SELECT: WHERE with AND/OR/NOT/IN/BETWEEN/LIKE/IS NULL, ORDER BY with directions and NULLS
-- FIRST/LAST, LIMIT/OFFSET, DISTINCT, aggregates without GROUP BY, expressions and literals.

CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, city text, age int, score double precision);
INSERT INTO people VALUES
    (1, 'Ada', 'London', 36, 9.5),
    (2, 'Grace', 'New York', 85, 8.25),
    (3, 'Alan', 'London', 41, NULL),
    (4, 'Edsger', 'Austin', 72, 7),
    (5, 'Barbara', NULL, 84, 9.75),
    (6, 'Ken', 'Berkeley', NULL, 6.5),
    (7, 'Dennis', 'Berkeley', 70, 6.5);

SELECT * FROM people ORDER BY id;
SELECT name FROM people WHERE city = 'London' AND age > 40;
SELECT name FROM people WHERE city = 'Austin' OR age < 40 ORDER BY name;
SELECT name FROM people WHERE NOT (city = 'Berkeley') ORDER BY id;
SELECT name FROM people WHERE id IN (2, 4, 6, 8) ORDER BY id;
SELECT name FROM people WHERE id NOT IN (1, 2, 3) ORDER BY id;
SELECT name FROM people WHERE age BETWEEN 70 AND 84 ORDER BY age;
SELECT name FROM people WHERE age NOT BETWEEN 40 AND 80 ORDER BY id;
SELECT name FROM people WHERE name LIKE 'A%' ORDER BY name;
SELECT name FROM people WHERE name LIKE '_en%' ORDER BY name;
SELECT name FROM people WHERE name NOT LIKE '%a%' ORDER BY name;
SELECT name FROM people WHERE city IS NULL;
SELECT name FROM people WHERE age IS NOT NULL AND score IS NULL;
SELECT name FROM people WHERE city = NULL;

SELECT name, age FROM people ORDER BY age;
SELECT name, age FROM people ORDER BY age DESC;
SELECT name, age FROM people ORDER BY age ASC NULLS FIRST;
SELECT name, age FROM people ORDER BY age DESC NULLS LAST;
SELECT name, score FROM people ORDER BY score DESC, name ASC;
SELECT name, city FROM people ORDER BY city NULLS FIRST, name DESC;
SELECT id FROM people ORDER BY id LIMIT 3;
SELECT id FROM people ORDER BY id LIMIT 3 OFFSET 2;
SELECT id FROM people ORDER BY id OFFSET 5;
SELECT id FROM people ORDER BY id LIMIT 0;
SELECT id FROM people ORDER BY id DESC LIMIT 2;

SELECT DISTINCT city FROM people ORDER BY city;
SELECT DISTINCT score FROM people ORDER BY score NULLS FIRST;
SELECT DISTINCT city FROM people; -- [unordered]

SELECT count(*) FROM people;
SELECT count(age), count(city), count(score) FROM people;
SELECT sum(age), min(age), max(age) FROM people;
SELECT min(name), max(name) FROM people;
SELECT sum(score), min(score), max(score) FROM people;
SELECT count(*) FROM people WHERE city = 'Berkeley';
SELECT count(*), sum(age), min(age), max(age) FROM people WHERE id > 100;

SELECT 1;
SELECT 1 AS one, 'two' AS two, true AS three, NULL AS four;
SELECT 2 + 3 * 4, 7 / 2, 7 % 3, -5 + 1;
SELECT 'a' || 'b' || 'c';
SELECT id * 10 AS tens, name FROM people WHERE id <= 2 ORDER BY tens DESC;
SELECT name, age + 1 FROM people WHERE id = 1;
SELECT upper(name), lower(name), length(name) FROM people WHERE id = 2;
SELECT p.name FROM people p WHERE p.id = 3;
SELECT people.name FROM people WHERE people.id = 4;

-- Ordering by position and by alias, the standard's FETCH FIRST, DISTINCT aggregates, and text
-- order (the oracle's databases use the C collation: byte order, upper case first).
CREATE TABLE words (id int PRIMARY KEY, word text, n int);
INSERT INTO words VALUES (1, 'apple', 3), (2, 'Banana', 1), (3, 'cherry', NULL), (4, 'apple', 2),
    (5, '_under', 5), (6, 'Zed', 1), (7, 'éclair', 4);
SELECT word FROM words ORDER BY word;
SELECT word FROM words ORDER BY word DESC;
SELECT id, word FROM words ORDER BY 2, 1;
SELECT id AS k FROM words ORDER BY k DESC;
SELECT DISTINCT word, n FROM words ORDER BY word, n;
SELECT id FROM words ORDER BY id FETCH FIRST 2 ROWS ONLY;
SELECT id FROM words ORDER BY id OFFSET 5 ROWS FETCH NEXT ROW ONLY;
SELECT id FROM words ORDER BY id LIMIT ALL;
SELECT count(DISTINCT word), count(DISTINCT n), sum(DISTINCT n), count(word) FROM words;
SELECT avg(n), avg(id), max(n) - min(n), count(*) * 2 FROM words;
SELECT id FROM words WHERE n IN (1, NULL) ORDER BY id;
SELECT id FROM words WHERE n NOT IN (1, NULL);
SELECT id FROM words WHERE word LIKE '\_%';
SELECT 3 > 2, 'a' < 'b', NULL = NULL, NULL IS NULL, true AND NULL, false AND NULL, true OR NULL;
SELECT coalesce(n, 0), nullif(n, 1) FROM words ORDER BY id;
SELECT length('héllo'), upper('héllo'), 'x' || NULL, 1 || 'a';
SELECT * FROM words WHERE false;
SELECT id FROM words WHERE id = '3';
SELECT id FROM words WHERE id = 1.0;
