-- GROUP BY and HAVING: one row per key, aggregates per group, HAVING on aggregates, ORDER BY an
-- aggregate, a position, or a key.
CREATE TABLE sales (region text, product text, qty int, price numeric);
INSERT INTO sales VALUES ('north', 'apple', 10, 1.50), ('north', 'pear', 5, 2.00), ('south', 'apple', 7, 1.50), ('south', 'apple', 3, 1.60), ('east', 'plum', 1, 3.00), ('east', NULL, 2, 1.00);
SELECT region, count(*), sum(qty) FROM sales GROUP BY region ORDER BY region;
SELECT region, sum(qty) AS total FROM sales GROUP BY region ORDER BY total DESC;
SELECT region, product, sum(qty) FROM sales GROUP BY region, product ORDER BY region, product;
SELECT product, count(*) FROM sales GROUP BY product ORDER BY product NULLS FIRST;
SELECT region, max(price), min(qty) FROM sales GROUP BY 1 ORDER BY 1;
SELECT region, count(*) FROM sales GROUP BY region HAVING count(*) > 1 ORDER BY region;
SELECT region FROM sales GROUP BY region HAVING sum(qty) >= 10 ORDER BY sum(qty), region;
SELECT region, sum(qty * price) FROM sales WHERE qty > 1 GROUP BY region ORDER BY region;
SELECT count(*) FROM sales WHERE qty > 100 GROUP BY region;
SELECT region, count(DISTINCT product) FROM sales GROUP BY region ORDER BY region;
