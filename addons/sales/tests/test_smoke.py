def test_sales_installs_with_a_licence(sales_app, slogin):
    client = slogin(superuser=True)
    assert client.get("/").status_code == 200
